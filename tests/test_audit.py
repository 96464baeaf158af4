"""The audit log: changes to users, memberships and assignments are recorded with the change."""

from sqlalchemy import func
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Assignment
from annotator.models import Event
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user
from tests.factories import token_for


def events(app, prefix=""):
    with app.app_context():
        return [(e.action, e.actor.username if e.actor else None, e.document_id, e.before, e.after)
                for e in db.session.scalars(select(Event).where(Event.action.startswith(prefix)).order_by(Event.id))]


def test_user_changes_are_audited_with_who_and_what(app, client):
    admin = token_for(make_user("boss", role="admin"))
    client.post("/api/v1/users", headers=admin, json={"username": "amira", "password": "a long password"})
    client.patch("/api/v1/users/amira", headers=admin, json={"active": False})
    logged = events(app, "user.")
    assert [(action, actor) for action, actor, *_ in logged] == [("user.create", "boss"), ("user.update", "boss")]
    assert logged[1][3]["active"] is True and logged[1][4]["active"] is False


def test_assignment_changes_are_audited_per_document(app, client):
    admin = token_for(make_user("boss", role="admin"))
    project = make_project(name="pilot", members=[make_user("amira"), make_user("bruno")])
    (document_id,) = make_documents(project, ["One text."])
    r = client.post(f"/api/v1/projects/{project.id}/assignments", headers=admin,
                    json={"annotators": ["amira"], "per_document": 1})
    aid = r.json["assignments"][0]["id"]
    new = client.patch(f"/api/v1/assignments/{aid}", headers=admin, json={"annotator": "bruno"}).json
    client.delete(f"/api/v1/assignments/{new['id']}", headers=admin)
    logged = events(app, "assignment.")
    assert [e[0] for e in logged] == ["assignment.create", "assignment.reassign", "assignment.delete"]
    assert all(e[1] == "boss" and e[2] == document_id for e in logged)
    assert logged[1][3]["username"] == "amira" and logged[1][4]["username"] == "bruno"


def test_a_refused_change_leaves_no_event(app, client):
    """Is the event written in the same transaction (nothing when the change is rolled back)?"""
    admin = token_for(make_user("boss", role="admin"))
    project = make_project(name="pilot", members=[make_user("amira")])
    make_documents(project, ["One text.", "Two texts."])
    r = client.post(f"/api/v1/projects/{project.id}/assignments", headers=admin,
                    json={"annotators": ["amira"], "per_document": 1, "documents": [1, 2, 999999]})
    assert r.status_code == 422
    with app.app_context():
        count = select(func.count()).select_from(Event).where(Event.action.startswith("assignment"))
        assert db.session.scalar(count) == 0
        assert db.session.scalar(select(func.count()).select_from(Assignment)) == 0


def test_membership_changes_are_audited(app, client):
    admin = token_for(make_user("boss", role="admin"))
    project = make_project(name="pilot")
    make_user("amira")
    client.post(f"/api/v1/projects/{project.id}/members", headers=admin, json={"usernames": ["amira"]})
    client.post(f"/api/v1/projects/{project.id}/members", headers=admin, json={"usernames": ["amira"]})
    client.delete(f"/api/v1/projects/{project.id}/members/amira", headers=admin)
    assert [(e[0], e[4] if e[0] == "member.add" else e[3]) for e in events(app, "member.")] == [
        ("member.add", {"username": "amira"}), ("member.remove", {"username": "amira"})]


def test_audit_page_filters_by_user_document_and_time(app, client, login):
    make_user("boss", role="admin")
    login("boss")
    admin = token_for(make_user("root", role="admin"))
    project = make_project(name="pilot", members=[make_user("amira"), make_user("bruno")])
    first, second = make_documents(project, ["One text.", "Two texts."])
    client.post(f"/api/v1/projects/{project.id}/assignments", headers=admin,
                json={"annotators": ["amira", "bruno"], "per_document": 1})
    page = client.get(f"/admin/audit?document={first}").get_data(as_text=True)
    assert page.count('data-action="assignment.create"') == 1
    page = client.get("/admin/audit?user=bruno").get_data(as_text=True)
    assert page.count('data-action="assignment.create"') == 1  # the assignment done to bruno
    page = client.get("/admin/audit?user=root&action=assignment.create").get_data(as_text=True)
    assert page.count('data-action="assignment.create"') == 2
    assert client.get("/admin/audit?user=ghost").status_code == 422
    future = client.get("/admin/audit?since=2999-01-01T00:00").get_data(as_text=True)
    assert "No events match." in future
    past = client.get("/admin/audit?since=2000-01-01T00:00").get_data(as_text=True)
    assert past.count('data-action="assignment.create"') == 2
    assert client.get("/admin/audit", headers=token_for(make_user("amira2"))).status_code == 403
