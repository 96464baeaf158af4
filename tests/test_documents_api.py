"""API: POST/GET /api/v1/projects/{pid}/documents and GET /api/v1/documents/{did}."""

import io
import json

from sqlalchemy import func
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import AnnotationSet
from annotator.models import Document
from tests.factories import CORPUS
from tests.factories import corpus_records
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user
from tests.factories import token_for
from tests.test_import import assert_matches_corpus


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def setup_project():
    admin = make_user("root", role="admin")
    amira = make_user("amira")
    project = make_project(members=[amira])
    return project, token_for(admin), amira


def test_admin_imports_the_corpus_as_json_byte_for_byte(app, client):
    project, headers, _ = setup_project()
    response = client.post(f"/api/v1/projects/{project.id}/documents", headers=headers,
                           json={"documents": corpus_records(), "as_user": "amira"})
    assert response.status_code == 201, response.json
    assert response.json["created"] == 8 and response.json["errors"] == []
    with app.app_context():
        assert_matches_corpus(corpus_records())


def test_admin_imports_the_corpus_as_a_multipart_file_byte_for_byte(app, client):
    project, headers, _ = setup_project()
    response = client.post(f"/api/v1/projects/{project.id}/documents", headers=headers,
                           data={"file": (io.BytesIO(CORPUS.read_bytes()), "conflict_sample.jsonl"),
                                 "as_user": "amira", "skip_invalid": "false"})
    assert response.status_code == 201, response.json
    assert response.json["created"] == 8
    with app.app_context():
        assert_matches_corpus(corpus_records())


def test_invalid_records_answer_422_keyed_by_line_and_store_nothing(app, client):
    project, headers, _ = setup_project()
    response = client.post(f"/api/v1/projects/{project.id}/documents", headers=headers,
                           json={"documents": [{"text": "ok"}, {"text": ""}, {"text": "x\u0000"}]})
    assert response.status_code == 422
    assert response.json["errors"] == {"2": ["The record has no text."],
                                       "3": ["Line 1 of the text contains a NUL character."]}
    with app.app_context():
        assert count(Document) == 0


def test_skip_invalid_answers_201_with_the_errors(app, client):
    project, headers, _ = setup_project()
    response = client.post(f"/api/v1/projects/{project.id}/documents", headers=headers,
                           json={"documents": [{"text": "ok"}, {"text": ""}], "skip_invalid": True})
    assert response.status_code == 201
    assert response.json["created"] == 1
    assert response.json["errors"] == [{"line": 2, "message": "The record has no text."}]


def test_deeply_nested_json_body_is_a_400_not_a_500(client):
    project, headers, _ = setup_project()
    body = '{"documents": ' + "[" * 10_000 + "]" * 10_000 + "}"
    response = client.post(f"/api/v1/projects/{project.id}/documents", headers={**headers,
                           "Content-Type": "application/json"}, data=body)
    assert response.status_code == 400
    assert "nested too deeply" in response.json["message"]
    response = client.post(f"/api/v1/projects/{project.id}/documents", headers=headers,
                           data={"file": (io.BytesIO(b"[" * 10_000), "deep.json")})
    assert response.status_code == 422 and response.json["errors"] == {"1": ["The JSON is nested too deeply."]}


def test_bad_json_and_bad_options_are_4xx(client):
    project, headers, _ = setup_project()
    url = f"/api/v1/projects/{project.id}/documents"
    response = client.post(url, headers={**headers, "Content-Type": "application/json"}, data=b'{"documents": [')
    assert response.status_code == 400
    response = client.post(url, headers=headers, json={"documents": [{"text": "x"}], "colour": "red"})
    assert response.status_code == 422 and "colour" in response.json["errors"]
    response = client.post(url, headers=headers, data={"format": "pdf", "file": (io.BytesIO(b"x"), "x.pdf")})
    assert response.status_code == 422 and "format" in response.json["errors"]
    response = client.post(url, headers=headers, data={"as_user": "amira"}, content_type="multipart/form-data")
    assert response.status_code == 422 and "file" in response.json["errors"]
    response = client.post(url, headers={**headers, "Content-Type": "text/plain"}, data="hello")
    assert response.status_code == 415


def test_as_user_must_be_a_member_422(app, client):
    project, headers, _ = setup_project()
    make_user("outsider")
    response = client.post(f"/api/v1/projects/{project.id}/documents", headers=headers,
                           json={"documents": corpus_records()[:1], "as_user": "outsider"})
    assert response.status_code == 422 and "as_user" in response.json["errors"]
    with app.app_context():
        assert count(Document) == 0


def test_as_user_gets_their_set_and_an_in_progress_assignment(app, client):
    project, headers, amira = setup_project()
    client.post(f"/api/v1/projects/{project.id}/documents", headers=headers,
                json={"documents": corpus_records()[:2], "as_user": "amira"})
    amira_headers = token_for(amira)
    queue = client.get("/api/v1/me/assignments", headers=amira_headers)
    if queue.status_code == 200:  # the queue endpoint belongs to the assignments feature
        assert {item["status"] for item in queue.json} == {"in_progress"}
    with app.app_context():
        assert {s.user_id for s in db.session.scalars(select(AnnotationSet))} == {amira.id}


def test_upload_over_the_limit_is_413_with_a_clear_message(make_app):
    app = make_app(MAX_UPLOAD_MB=1)
    from tests import factories
    from tests.conftest import empty_database

    with app.app_context():
        empty_database()
    factories.bind(app)
    project, headers, _ = setup_project()
    client = app.test_client()
    # The multipart body is built by hand: the test client would spool it to a temporary file
    # that it never closes when the app refuses the body unread.
    body = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\n\r\n'
            + b'{"text": "' + b"x" * (1024 * 1024 + 10) + b'"}\n\r\n--b--\r\n')
    response = client.post(f"/api/v1/projects/{project.id}/documents", headers=headers, data=body,
                           content_type="multipart/form-data; boundary=b")
    assert response.status_code == 413
    assert response.json["message"] == "The request is larger than the limit of 1 MiB."


def test_document_over_the_character_limit_is_refused(make_app):
    app = make_app(MAX_DOCUMENT_CHARS=50)
    from tests import factories
    from tests.conftest import empty_database

    with app.app_context():
        empty_database()
    factories.bind(app)
    project, headers, _ = setup_project()
    response = app.test_client().post(f"/api/v1/projects/{project.id}/documents", headers=headers,
                                      json={"documents": [{"text": "y" * 51}]})
    assert response.status_code == 422
    assert response.json["errors"] == {"1": ["The text has 51 characters; the limit is 50."]}


def test_annotator_cannot_import(client):
    project, _, amira = setup_project()
    response = client.post(f"/api/v1/projects/{project.id}/documents", headers=token_for(amira),
                           json={"documents": [{"text": "x"}]})
    assert response.status_code == 403


def test_import_into_a_missing_project_is_404(client):
    _, headers, _ = setup_project()
    response = client.post("/api/v1/projects/999/documents", headers=headers, json={"documents": [{"text": "x"}]})
    assert response.status_code == 404


# --- the list --------------------------------------------------------------------------------

def test_list_is_paginated_without_text(client):
    project, headers, _ = setup_project()
    make_documents(project, [f"Article {n}" for n in range(7)])
    response = client.get(f"/api/v1/projects/{project.id}/documents?page=2&page_size=3", headers=headers)
    assert response.status_code == 200
    assert json.loads(response.headers["X-Pagination"])["total"] == 7
    assert [item["id"] for item in response.json] == [4, 5, 6]
    assert all("text" not in item and "tokens" not in item for item in response.json)
    assert response.json[0]["chars"] == len("Article 3")


def test_list_filters_by_status_and_annotator_and_searches_text_and_meta(client):
    project, headers, amira = setup_project()
    bruno = make_user("bruno")
    make_documents(project, [{"text": "Shelling in Homs.", "meta": {"source": "Levant Wire"}},
                             {"text": "Quiet day.", "meta": {"city": "حلب"}},
                             {"text": "100% of 5_000 homes hit."}])
    client.post(f"/api/v1/projects/{project.id}/documents", headers=headers,
                json={"documents": corpus_records()[:1], "as_user": "amira"})
    url = f"/api/v1/projects/{project.id}/documents"

    def ids(query):
        response = client.get(url + query, headers=headers)
        assert response.status_code == 200, response.json
        return [item["id"] for item in response.json]

    assert ids("?q=homs") == [1]
    assert ids("?q=levant%20wire") == [1, 4]
    assert ids("?q=%D8%AD%D9%84%D8%A8") == [2, 4]  # حلب, in meta and in the corpus text
    assert ids("?q=100%25") == [3] and ids("?q=5_0") == [3]  # wildcards are literal
    assert ids("?status=in_progress") == [4]
    assert ids("?annotator=amira") == [4] and ids("?annotator=bruno") == []
    assert ids("?status=unassigned") == [1, 2, 3]
    assert ids("?status=submitted&annotator=amira") == []
    assert client.get(url + "?status=done", headers=headers).status_code == 422
    assert client.get(url, headers=token_for(make_user("rev", role="reviewer"))).status_code == 200
    assert client.get(url, headers=token_for(bruno)).status_code == 403


# --- one document ----------------------------------------------------------------------------

def test_document_is_visible_to_admin_reviewer_and_assigned_annotator_only(client):
    project, headers, amira = setup_project()
    client.post(f"/api/v1/projects/{project.id}/documents", headers=headers,
                json={"documents": corpus_records()[:1], "as_user": "amira"})
    (other_id,) = make_documents(project, ["Not assigned to anyone."])
    record = corpus_records()[0]
    for who in (headers, token_for(make_user("rev", role="reviewer")), token_for(amira)):
        response = client.get("/api/v1/documents/1", headers=who)
        assert response.status_code == 200
        assert response.json["text"] == record["text"] and response.json["external_id"] == "A01"
        assert response.json["text_sha256"] and response.json["tokens"][0] == [0, 6]
        assert response.json["lang"] == "en" and response.json["meta"] == record["meta"]
    assert client.get(f"/api/v1/documents/{other_id}", headers=token_for(amira)).status_code == 404
    assert client.get("/api/v1/documents/999", headers=token_for(amira)).status_code == 404
    assert client.get("/api/v1/documents/1", headers=token_for(make_user("bruno"))).status_code == 404
