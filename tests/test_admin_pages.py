"""Admin pages: projects, schema editor, members, people, assignment, progress, audit (test client)."""

import json
import re

from sqlalchemy import func
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Assignment
from annotator.models import Event
from annotator.models import Project
from annotator.models import ProjectMember
from annotator.models import User
from tests.factories import PASSWORD
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user


def admin_client(client, login):
    make_user("boss", role="admin")
    login("boss")
    return login.page_csrf("/admin/projects")


def test_admin_creates_a_project_and_lands_on_its_editor(app, client, login):
    token = admin_client(client, login)
    r = client.post("/admin/projects", data={"csrf_token": token, "name": "Pilot <b>", "mode": "dynamic",
                                             "per_document": "2", "claim_timeout_minutes": "30",
                                             "guidelines": "# Rules\n<script>alert(1)</script>"})
    assert r.status_code == 302
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Pilot &lt;b&gt;" in page and 'id="schema-editor"' in page
    assert "<script>alert(1)</script>" not in page  # shown as text in the textarea and the preview
    assert "<h1>Rules</h1>" in page
    with app.app_context():
        project = db.session.scalar(select(Project))
        assert (project.assignment_mode, project.per_document, project.claim_timeout_minutes) == ("dynamic", 2, 30)
        assert [label["name"] for label in project.schema["labels"]][:1] == ["ACTOR"]


def test_creating_a_project_with_a_taken_name_shows_the_error(client, login):
    token = admin_client(client, login)
    make_project(name="pilot")
    r = client.post("/admin/projects", data={"csrf_token": token, "name": "pilot", "per_document": "1",
                                             "claim_timeout_minutes": "60"})
    assert r.status_code == 409 or r.status_code == 422
    assert "Already taken." in r.get_data(as_text=True)


def test_schema_saved_from_the_form_is_validated(app, client, login):
    token = admin_client(client, login)
    project = make_project(name="pilot")
    schema = dict(project.schema)
    schema["labels"] = [dict(label) for label in schema["labels"]]
    schema["labels"][1]["hotkey"] = schema["labels"][0]["hotkey"]
    r = client.post(f"/admin/projects/{project.id}", data={
        "csrf_token": token, "name": "pilot", "mode": "static", "per_document": "1",
        "claim_timeout_minutes": "60", "guidelines": "", "schema": json.dumps(schema)})
    assert r.status_code == 422
    assert "already used by ACTOR" in r.get_data(as_text=True)
    r = client.post(f"/admin/projects/{project.id}", data={
        "csrf_token": token, "name": "pilot", "mode": "static", "per_document": "1",
        "claim_timeout_minutes": "60", "guidelines": "", "schema": "{not json"})
    assert r.status_code == 422 and "Not valid JSON" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Project, project.id).schema_version == 1


def test_members_page_adds_and_removes(app, client, login):
    token = admin_client(client, login)
    project = make_project(name="pilot")
    make_user("amira")
    r = client.post(f"/admin/projects/{project.id}/members", data={"csrf_token": token, "usernames": ["amira"]})
    assert r.status_code == 302
    assert 'data-username="amira"' in client.get(f"/admin/projects/{project.id}/members").get_data(as_text=True)
    r = client.post(f"/admin/projects/{project.id}/members/amira/remove", data={"csrf_token": token})
    assert r.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ProjectMember)) == 0
        assert [e.action for e in db.session.scalars(select(Event).order_by(Event.id))][-2:] == [
            "member.add", "member.remove"]


def test_people_page_creates_users_with_a_one_time_password(app, client, login):
    token = admin_client(client, login)
    project = make_project(name="pilot")
    r = client.post("/admin/people", data={"csrf_token": token, "username": "nadia", "role": "annotator",
                                           "password": "", "projects": [str(project.id)]})
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    password = re.search(r'id="new-password">([^<]+)<', page).group(1)
    assert len(password) >= 12
    fresh = client.application.test_client()
    from tests.conftest import Login
    assert Login(fresh)("nadia", password).status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "nadia"))
        assert db.session.get(ProjectMember, (project.id, user.id)) is not None


def test_person_page_changes_role_deactivates_and_resets_password(app, client, login):
    token = admin_client(client, login)
    make_user("nadia")
    base = "/admin/people/nadia"
    assert client.post(base, data={"csrf_token": token, "action": "role", "role": "reviewer"}).status_code == 302
    r = client.post(base, data={"csrf_token": token, "action": "password", "password": ""})
    assert r.status_code == 200 and 'id="new-password"' in r.get_data(as_text=True)
    assert client.post(base, data={"csrf_token": token, "action": "deactivate"}).status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "nadia"))
        assert (user.role, user.active) == ("reviewer", False)
        actions = [e.action for e in db.session.scalars(select(Event).where(Event.object_type == "user"))]
        assert actions.count("user.update") == 3
    weak = client.post(base, data={"csrf_token": token, "action": "password", "password": "short"})
    assert weak.status_code == 422 and "at least 10" in weak.get_data(as_text=True)


def test_admin_cannot_deactivate_themselves(client, login):
    token = admin_client(client, login)
    r = client.post("/admin/people/boss", data={"csrf_token": token, "action": "deactivate"})
    assert r.status_code == 409


def test_assign_page_previews_then_assigns_a_selection(app, client, login):
    token = admin_client(client, login)
    users = [make_user("ann1"), make_user("ann2")]
    project = make_project(name="pilot", members=users)
    ids = make_documents(project, [f"Text {i} about shelling." for i in range(5)])
    page = client.get(f"/admin/projects/{project.id}/assign").get_data(as_text=True)
    assert page.count('class="pick"') == 5
    data = {"csrf_token": token, "scope": "selection", "documents": [str(i) for i in ids[:2]],
            "annotators": ["ann1", "ann2"], "per_document": "2", "action": "preview"}
    r = client.post(f"/admin/projects/{project.id}/assign", data=data)
    assert r.status_code == 200 and 'data-planned="4"' in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Assignment)) == 0
    r = client.post(f"/admin/projects/{project.id}/assign", data={**data, "action": "assign"})
    assert r.status_code == 200 and 'data-created="4"' in r.get_data(as_text=True)
    data.update(scope="short", per_document="1", action="assign")
    r = client.post(f"/admin/projects/{project.id}/assign", data=data)
    assert 'data-created="3"' in r.get_data(as_text=True)


def test_assign_page_with_a_filter_and_errors(app, client, login):
    token = admin_client(client, login)
    project = make_project(name="pilot", members=[make_user("ann1")])
    make_documents(project, [{"text": "Alpha text.", "id": "A-1"}, {"text": "Beta text.", "id": "B-1"}])
    listing = client.get(f"/admin/projects/{project.id}/assign?q=A-&show=all").get_data(as_text=True)
    assert listing.count('class="pick"') == 1
    r = client.post(f"/admin/projects/{project.id}/assign", data={
        "csrf_token": token, "scope": "filter", "q": "A-", "show": "all", "annotators": ["ann1"],
        "per_document": "1", "action": "assign"})
    assert 'data-created="1"' in r.get_data(as_text=True)
    r = client.post(f"/admin/projects/{project.id}/assign", data={
        "csrf_token": token, "scope": "short", "annotators": ["ann1"], "per_document": "2", "action": "assign"})
    assert r.status_code == 422 and "at most the number of annotators" in r.get_data(as_text=True)


def test_unassign_and_reassign_from_the_page(app, client, login):
    token = admin_client(client, login)
    users = [make_user("ann1"), make_user("ann2")]
    project = make_project(name="pilot", members=users)
    make_documents(project, ["Only text."])
    client.post(f"/admin/projects/{project.id}/assign", data={
        "csrf_token": token, "scope": "short", "annotators": ["ann1"], "per_document": "1", "action": "assign"})
    with app.app_context():
        aid = db.session.scalar(select(Assignment.id))
    r = client.post(f"/admin/assignments/{aid}/reassign", data={"csrf_token": token, "annotator": "ann2"})
    assert r.status_code == 302
    with app.app_context():
        assignment = db.session.scalar(select(Assignment))
    assert assignment.user_id == users[1].id
    r = client.post(f"/admin/assignments/{assignment.id}/delete",
                    data={"csrf_token": token, "next_page": "//evil.example/"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/admin/projects/{project.id}/assign")


def test_progress_pages_and_csv(client, login):
    make_user("rev", role="reviewer")
    login("rev")
    project = make_project(name="pilot", members=[make_user("ann1")])
    assert client.get("/admin/progress").status_code == 200
    page = client.get(f"/admin/projects/{project.id}/progress").get_data(as_text=True)
    assert 'id="chart-annotators"' in page and 'id="progress-data"' in page and "ann1" in page
    csv = client.get(f"/admin/projects/{project.id}/progress.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).splitlines()[0].startswith("annotator,role,active")
    assert client.get("/admin/people").status_code == 403


def test_audit_page_filters(app, client, login):
    token = admin_client(client, login)
    make_user("nadia")
    client.post("/admin/people/nadia", data={"csrf_token": token, "action": "role", "role": "reviewer"})
    page = client.get("/admin/audit?user=nadia").get_data(as_text=True)
    assert 'data-action="user.update"' in page
    assert client.get("/admin/audit?document=abc").status_code == 422
    assert client.get("/admin/audit?since=yesterday").status_code == 422
    page = client.get("/admin/audit?since=2000-01-01T00:00&until=2000-01-02T00:00").get_data(as_text=True)
    assert "No events match." in page


def test_admin_links_in_the_top_bar(client, login):
    make_user("boss", role="admin")
    login("boss", PASSWORD)
    page = client.get("/").get_data(as_text=True)
    for href in ("/admin/projects", "/admin/people", "/admin/audit", "/admin/progress"):
        assert f'href="{href}"' in page


def test_schema_editor_names_a_wrong_type_by_its_dotted_path(app, client, login):
    token = admin_client(client, login)
    project = make_project(name="pilot")
    for head in ([["CASUALTY_CLAIM"]], [{"label": "ACTOR"}], [7], [None], {"ACTOR": 1}):
        schema = json.loads(json.dumps(project.schema))
        schema["relations"][0]["head"] = head
        r = client.post(f"/admin/projects/{project.id}", data={
            "csrf_token": token, "name": "pilot", "mode": "static", "per_document": "1",
            "claim_timeout_minutes": "60", "guidelines": "", "schema": json.dumps(schema)})
        assert r.status_code == 422, head
        assert "<code>relations.0.head</code>" in r.get_data(as_text=True), head
    with app.app_context():
        assert db.session.get(Project, project.id).schema_version == 1
