"""Pages whose statement count must not grow with the data they list (no query per row)."""

from sqlalchemy import event

from annotator.extensions import db
from annotator.models import Assignment
from tests.factories import in_app
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user
from tests.factories import token_for


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
        assert client.get(path, headers=headers).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", counter)
    return len(count)


def test_home_queue_costs_the_same_statements_for_3_or_30_documents(app, client):
    amira = make_user("amira")
    project = make_project(members=[amira])
    headers = token_for(amira)
    assign_all(make_documents(project, [f"Article {n}." for n in range(3)]), amira)
    few = statements_for(app, client, "/", headers)
    assign_all(make_documents(project, [f"Story {n}." for n in range(27)]), amira)
    many = statements_for(app, client, "/", headers)
    assert many == few
