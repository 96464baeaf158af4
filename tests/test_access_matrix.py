"""Access matrix: every route x {anonymous, annotator, reviewer, admin}, generic over app.url_map.

Routes added later are covered automatically. Path arguments are filled with objects the
annotator must not see (another project, its document, its assignment), so every cell also
checks the 404 rule (docs/security.md 6 B8-B11):

- anonymous: API 401, pages a redirect to /login;
- a role the view's ``require_role`` leaves out: 403;
- an annotator reading another project's objects or a document not assigned to them: 404
  (writes may also answer 422 for the empty body; never 2xx);
- nobody ever gets a 5xx, and a role a view names is never refused with 403.
"""

import re

import pytest
from werkzeug.routing import IntegerConverter

from annotator.extensions import db
from annotator.models import Assignment
from annotator.security import PUBLIC_ENDPOINTS
from tests.conftest import Login
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user
from tests.factories import token_for
from tests.test_access import required_roles

SKIP_METHODS = {"HEAD", "OPTIONS"}
# Logging out ends the session the rest of the walk uses: it goes last.
LAST = {"auth.logout"}


def build_world(app):
    """Create the users and two projects: the annotator's own and a foreign one."""
    people = {role: make_user(f"the-{role}", role=role) for role in ("admin", "reviewer", "annotator")}
    other = make_user("other")
    mine = make_project(name="mine", members=[people["annotator"], other])
    foreign = make_project(name="foreign", members=[other])
    (own_doc, unassigned_doc) = make_documents(mine, ["My own assigned text.", "A text assigned to someone else."])
    (foreign_doc,) = make_documents(foreign, ["A text in a project I do not belong to."])
    with app.app_context():
        rows = [Assignment(document_id=own_doc, user_id=people["annotator"].id),
                Assignment(document_id=unassigned_doc, user_id=other.id),
                Assignment(document_id=foreign_doc, user_id=other.id)]
        db.session.add_all(rows)
        db.session.commit()
        ids = [row.id for row in rows]
    return {"people": people, "mine": mine.id, "foreign": foreign.id, "own_doc": own_doc,
            "unassigned_doc": unassigned_doc, "foreign_doc": foreign_doc, "own_assignment": ids[0],
            "foreign_assignment": ids[2]}


def fill(rule, values: dict) -> tuple[str, bool]:
    """Return the rule's URL with arguments filled from ``values``, and whether it names an object."""
    url = rule.rule
    names_object = False
    for arg in rule.arguments:
        numeric = isinstance(rule._converters[arg], IntegerConverter)
        lowered = arg.lower()
        if lowered in ("pid", "project_id") or "project" in lowered:
            value, names_object = values["project"], True
        elif lowered in ("did", "document_id") or "document" in lowered:
            value, names_object = values["document"], True
        elif lowered in ("aid", "assignment_id") or "assignment" in lowered:
            value, names_object = values["assignment"], True
        elif "user" in lowered:
            value = "other"
        else:
            value = 999999 if numeric else "x"
        url = re.sub(r"<(?:[a-z]+:)?" + re.escape(arg) + ">", str(value), url)
    return url, names_object


def routes(app):
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS or rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - SKIP_METHODS):
            found.append((rule, method))
    return sorted(found, key=lambda item: (item[0].endpoint in LAST, item[0].rule, item[1]))


def call(client, url, method, headers):
    body = {} if method in ("POST", "PUT", "PATCH") else None
    if url.startswith("/api/"):
        return client.open(url, method=method, headers=headers, json=body)
    return client.open(url, method=method, headers=headers, data={} if body is not None else None)


def signed_in(app, username):
    """Return a client logged in through the login form and the headers its requests need."""
    client = app.test_client()
    login = Login(client)
    assert login(username).status_code == 302
    return client, {"X-CSRFToken": login.page_csrf("/")}


def test_the_walk_covers_the_routes_of_this_issue(app):
    endpoints = {rule.endpoint for rule, _ in routes(app)}
    assert {"projects_api.create_project", "assignments_api.next_document", "admin.assign", "admin.people",
            "admin.audit_log", "admin.progress_page"} <= endpoints


def test_anonymous_users_are_turned_away_everywhere(app, client):
    world = build_world(app)
    values = {"project": world["foreign"], "document": world["foreign_doc"], "assignment": world["foreign_assignment"]}
    failures = []
    for rule, method in routes(app):
        url, _ = fill(rule, values)
        response = call(client, url, method, {})
        if url.startswith("/api/"):
            ok = response.status_code == 401
        else:
            ok = response.status_code == 302 and response.headers["Location"].startswith("/login")
        if not ok:
            failures.append((method, url, response.status_code))
    assert not failures, failures


@pytest.mark.parametrize("role", ["annotator", "reviewer", "admin"])
def test_every_route_answers_each_role_by_the_rules(app, role):
    world = build_world(app)
    user = world["people"][role]
    bearer = token_for(user)
    page_client, page_headers = signed_in(app, user.username)
    api_client = app.test_client()
    foreign = {"project": world["foreign"], "document": world["foreign_doc"], "assignment": world["foreign_assignment"]}
    failures, checked = [], 0
    for rule, method in routes(app):
        url, names_object = fill(rule, foreign)
        if url.startswith("/api/"):
            response = call(api_client, url, method, bearer)
        else:
            response = call(page_client, url, method, page_headers)
        status = response.status_code
        roles = required_roles(app, rule.endpoint)
        checked += 1
        problem = None
        if status >= 500:
            problem = "server error"
        elif roles is not None and role not in roles:
            if status != 403:
                problem = "expected 403 for a role the view leaves out"
        elif roles is not None and role in roles and status == 403:
            problem = "refused a role the view names"
        elif role == "annotator" and names_object:
            allowed = {404} if method == "GET" else {404, 422, 400}
            if status not in allowed:
                problem = f"another project's object must look missing (got {status})"
        if problem:
            failures.append((rule.endpoint, method, url, status, problem))
    assert checked >= 20
    assert not failures, "\n".join(map(str, failures))


def test_annotators_cannot_read_unassigned_documents_of_their_own_project(app):
    world = build_world(app)
    user = world["people"]["annotator"]
    bearer = token_for(user)
    page_client, page_headers = signed_in(app, user.username)
    api_client = app.test_client()
    failures = []
    for rule, method in routes(app):
        if method != "GET" or not any("did" == a or "document" in a for a in rule.arguments):
            continue
        values = {"project": world["mine"], "document": world["unassigned_doc"], "assignment": world["own_assignment"]}
        url, _ = fill(rule, values)
        client, headers = (api_client, bearer) if url.startswith("/api/") else (page_client, page_headers)
        response = call(client, url, method, headers)
        if response.status_code not in (403, 404):
            failures.append((rule.endpoint, url, response.status_code))
    assert not failures, failures


def test_annotators_reach_their_own_project_and_document(app, client):
    world = build_world(app)
    bearer = token_for(world["people"]["annotator"])
    assert client.get(f"/api/v1/projects/{world['mine']}", headers=bearer).status_code == 200
    r = client.get(f"/api/v1/projects/{world['mine']}/next", headers=bearer)
    assert r.status_code == 200 and r.json["id"] == world["own_doc"]
    mine = client.get("/api/v1/me/assignments", headers=bearer).json
    assert [a["document_id"] for a in mine] == [world["own_doc"]]
