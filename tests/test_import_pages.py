"""Pages: the admin import page and the document list."""

import io
import re

from sqlalchemy import func
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Document
from tests.factories import CORPUS
from tests.factories import corpus_records
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user
from tests.test_import import NAV_ONLY
from tests.test_import import assert_matches_corpus


def admin_page(client, login):
    make_user("root", role="admin")
    login("root")
    return login.page_csrf("/admin/import")


def test_admin_imports_the_corpus_through_the_upload_page_byte_for_byte(app, client, login):
    project = make_project(members=[make_user("amira")])
    token = admin_page(client, login)
    response = client.post("/admin/import", data={
        "csrf_token": token, "project": str(project.id), "as_user": "amira", "format": "",
        "file": (io.BytesIO(CORPUS.read_bytes()), "conflict_sample.jsonl")}, content_type="multipart/form-data")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert re.search(r'id="report-created">8<', page)
    with app.app_context():
        assert_matches_corpus(corpus_records())
    again = client.post("/admin/import", data={
        "csrf_token": token, "project": str(project.id), "as_user": "amira",
        "file": (io.BytesIO(CORPUS.read_bytes()), "conflict_sample.jsonl")}, content_type="multipart/form-data")
    assert re.search(r'id="report-duplicates">8<', again.get_data(as_text=True))


def test_pasted_text_becomes_one_document_stored_as_given(app, client, login):
    project = make_project()
    token = admin_page(client, login)
    text = "Skip to main content\nShelling <b>in</b> Homs {{7*7}}.\n\nAdvertisement\n"
    response = client.post("/admin/import", data={"csrf_token": token, "project": str(project.id), "text": text,
                                                  "format": "txt"})
    assert response.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(Document.text)) == text
    response = client.post("/admin/import", data={"csrf_token": token, "project": str(project.id),
                                                  "text": "Other. " + text, "format": "txt", "clean": "on"})
    with app.app_context():
        texts = db.session.scalars(select(Document.text).order_by(Document.id)).all()
        assert texts[1] == "Other. Skip to main content\nShelling <b>in</b> Homs {{7*7}}.\n"


def test_upload_page_lists_errors_by_line_and_stores_nothing(app, client, login):
    project = make_project()
    token = admin_page(client, login)
    data = b'{"text": "fine"}\n{"text": ""}\n{"text": "<img src=x onerror=alert(1)>", "bad": 1}\n'
    response = client.post("/admin/import", data={"csrf_token": token, "project": str(project.id),
                                                  "file": (io.BytesIO(data), "x.jsonl")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Nothing was imported" in page and "The record has no text." in page
    assert "Unknown field &#39;bad&#39;." in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    response = client.post("/admin/import", data={"csrf_token": token, "project": str(project.id),
                                                  "file": (io.BytesIO(NAV_ONLY.encode()), "menu.html")},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "No main text found" in response.get_data(as_text=True)


def test_upload_page_needs_the_csrf_token_and_the_admin_role(client, login):
    project = make_project()
    make_user("rev", role="reviewer")
    admin_page(client, login)
    response = client.post("/admin/import", data={"project": str(project.id), "text": "x"})
    assert response.status_code == 400
    client.post("/logout", data={"csrf_token": login.page_csrf("/")})
    login("rev")
    assert client.get("/admin/import").status_code == 403


def test_document_list_filters_searches_and_links_to_the_workspace(client, login):
    project = make_project(members=[make_user("amira")])
    make_documents(project, [{"text": f"Article {n} about Homs." if n % 2 else f"Article {n}.",
                              "meta": {"title": f"Title <{n}>"}} for n in range(60)])
    make_documents(project, corpus_records()[:1], as_user=None, suggestions=True)
    make_user("rev", role="reviewer")
    login("rev")
    page = client.get(f"/admin/documents?project={project.id}").get_data(as_text=True)
    assert "61 documents" in page and "Page 1 of 2" in page
    assert 'href="/documents/1/annotate"' in page and "Title &lt;0&gt;" in page
    page = client.get(f"/admin/documents?project={project.id}&q=homs").get_data(as_text=True)
    assert "30 documents match" in page and "Page 1 of 1" not in page
    page = client.get(f"/admin/documents?project={project.id}&page=2").get_data(as_text=True)
    assert 'href="/documents/61/annotate"' in page and 'rel="prev"' in page
    page = client.get(f"/admin/documents?project={project.id}&status=in_progress").get_data(as_text=True)
    assert "No documents match these filters." in page
    assert client.get(f"/admin/documents?project={project.id}&status=bogus").status_code == 422
    assert client.get("/admin/documents?project=999").status_code == 404
