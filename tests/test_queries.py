"""Pages and lists whose statement count must not grow with the rows they show (no query per row)."""

import pytest
from sqlalchemy import event

from annotator.extensions import db
from annotator.models import Assignment
from tests.factories import in_app
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user
from tests.factories import token_for

ANNOTATOR_PATHS = ["/", "/api/v1/me/assignments"]
ADMIN_PATHS = ["/admin/documents?project={pid}", "/api/v1/projects/{pid}/documents",
               "/api/v1/projects/{pid}/assignments", "/admin/projects/{pid}/assign",
               "/admin/projects/{pid}/progress", "/api/v1/projects/{pid}/progress", "/admin/audit",
               "/admin/projects", "/admin/people/amira"]


@in_app
def assign_all(document_ids, user):
    for document_id in document_ids:
        db.session.add(Assignment(document_id=document_id, user_id=user.id))
    db.session.commit()


def statements_for(app, client, path, headers) -> int:
    with app.app_context():
        engine = db.engine
    count = []

    def counter(*args):
        count.append(1)

    event.listen(engine, "before_cursor_execute", counter)
    try:
        assert client.get(path, headers=headers).status_code == 200, path
    finally:
        event.remove(engine, "before_cursor_execute", counter)
    return len(count)


@pytest.mark.parametrize("who, path", [("amira", p) for p in ANNOTATOR_PATHS] + [("root", p) for p in ADMIN_PATHS])
def test_statements_do_not_grow_from_3_to_30_documents(app, client, who, path):
    amira = make_user("amira")
    root = make_user("root", role="admin")
    project = make_project(members=[amira])
    headers = token_for(amira if who == "amira" else root)
    path = path.format(pid=project.id)
    assign_all(make_documents(project, [f"Article {n}." for n in range(3)]), amira)
    few = statements_for(app, client, path, headers)
    assign_all(make_documents(project, [f"Story {n}." for n in range(27)]), amira)
    assert statements_for(app, client, path, headers) == few
