"""The workspace page, the annotator's home and the next-document link (server side)."""

import json
import re

from annotator.extensions import db
from annotator.models import Assignment
from annotator.web.annotate import render_guidelines
from tests.factories import in_app
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user

HOSTILE = 'Gunmen </script><script>alert(1)</script> <img src=x onerror=alert(1)> {{7*7}} left.'


@in_app
def assign(document_id, user, status="assigned"):
    db.session.add(Assignment(document_id=document_id, user_id=user.id, status=status))
    db.session.commit()


def payload(page: str) -> dict:
    block = re.search(r'<script type="application/json" id="workspace-data">(.*?)</script>', page, re.S)
    return json.loads(block.group(1))


def test_annotator_opens_the_workspace_with_its_hooks_and_text_as_data(app, client, login):
    amira = make_user("amira")
    project = make_project(members=[amira], guidelines="# Rules\n\nMark **actors**.")
    [did] = make_documents(project, [HOSTILE])
    assign(did, amira)
    login("amira")
    response = client.get(f"/documents/{did}/annotate")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="doc-text"' in page and 'data-ready="false"' in page
    assert 'id="save-state" data-state="saved"' in page
    for label in ("ACTOR", "WEAPON", "LOCATION", "CASUALTY_CLAIM"):
        assert f'data-label="{label}"' in page
    assert "<script>alert(1)" not in page and "<img src=x" not in page and "49" not in page
    data = payload(page)
    assert data["document"]["text"] == HOSTILE
    assert data["annotations"]["version"] == 0 and data["urls"]["api"] == f"/api/v1/documents/{did}"
    assert "<h1>Rules</h1>" in page and "<strong>actors</strong>" in page
    assert 'href="/static/css/annotate.css"' in page and 'src="/static/js/annotate.js"' in page


def test_workspace_of_a_document_not_assigned_to_me_is_404(app, client, login):
    amira, bruno = make_user("amira"), make_user("bruno")
    project = make_project(members=[amira, bruno])
    [did] = make_documents(project, ["Shelling hit the town."])
    assign(did, amira)
    login("bruno")
    assert client.get(f"/documents/{did}/annotate").status_code == 404
    assert client.get("/documents/999999/annotate").status_code == 404


def test_guidelines_are_rendered_without_raw_html_or_script_links():
    html = render_guidelines("**bold** <script>alert(1)</script> [x](javascript:alert(1)) <b onclick=x>b</b>")
    assert "<strong>bold</strong>" in html
    assert "<script" not in html and 'href="javascript' not in html and "<b onclick" not in html
    assert "&lt;script&gt;" in html  # shown as text


def test_home_shows_my_queue_progress_and_where_i_left_off(app, client, login):
    amira = make_user("amira")
    project = make_project(name="Pilot", members=[amira])
    first, second, third = make_documents(project, [{"id": "A1", "text": "One."}, {"id": "A2", "text": "Two."},
                                                    {"id": "A3", "text": "Three."}])
    assign(first, amira, "submitted")
    assign(second, amira)
    assign(third, amira)
    login("amira")
    token = login.page_csrf()
    client.post(f"/api/v1/documents/{third}/spans", json={"start": 0, "end": 5, "label": "ACTOR"},
                headers={"X-CSRFToken": token})
    page = client.get("/").get_data(as_text=True)
    assert "Pilot" in page and "1 of 3 done" in page
    assert f'id="resume-link" class="button primary" href="/documents/{third}/annotate"' in page
    assert f'href="/projects/{project.id}/next"' in page
    assert page.index(">A3<") < page.index(">A2<") < page.index(">A1<")  # open work first


def test_next_document_opens_work_in_progress_then_says_none_is_left(app, client, login):
    amira = make_user("amira")
    project = make_project(members=[amira])
    first, second = make_documents(project, ["One.", "Two."])
    assign(first, amira)
    assign(second, amira, "in_progress")
    login("amira")
    response = client.get(f"/projects/{project.id}/next")
    assert response.headers["Location"] == f"/documents/{second}/annotate"
    token = login.page_csrf()
    for did in (first, second):
        client.post(f"/api/v1/documents/{did}/status", json={"status": "submitted"}, headers={"X-CSRFToken": token})
    done = client.get(f"/projects/{project.id}/next")
    assert done.headers["Location"] == "/"
    assert "Nothing left" in client.get("/").get_data(as_text=True)
    other = make_project()
    assert client.get(f"/projects/{other.id}/next").status_code == 404
