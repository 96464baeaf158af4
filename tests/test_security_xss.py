"""Stored XSS and template injection, checked in headless Chromium (docs/security.md 6 C13-C17).

A corpus of payloads goes into every string a user can set that a page shows: article text,
metadata and external id, project name, guidelines, a label description, a span attribute. Every
page of the URL map is then opened as an admin, and the annotator's pages as the annotator, and
each must show the payloads as text: no dialog, no element or handler created, no inline script.
"""

import re

import pytest
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Assignment
from annotator.models import Document
from annotator.services import importing
from annotator.services.schema import default_schema
from tests.conftest import browser_login
from tests.factories import make_project
from tests.factories import make_user

pytestmark = pytest.mark.browser

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "</textarea><script>alert(1)</script>",
    '<a href="javascript:alert(1)">x</a>',
    "<hr/>",
    "</script><script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg/onload=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<object data=javascript:alert(1)>",
    "<embed src=javascript:alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<marquee onstart=alert(1)>",
    "<base href=//evil.example/>",
    '<meta http-equiv="refresh" content="0;url=//evil.example">',
    "<style>*{display:none}</style>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "javascript:alert(1)",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "&lt;img src=x onerror=alert(1)&gt;",
    "<img src=x onerror=&#97;lert(1)>",
    "<div style=\"background:url(javascript:alert(1))\">",
    "\u2028</script>\u2029<script>alert(1)</script>",
    "{{7*7}}",
    "{{ config }}",
    "{{ ''.__class__.__mro__ }}",
    "{% raw %}x{% endraw %}",
    "${7*7}",
    "<!--",
]
TEXT = "Payload article.\n" + "\n".join(f"P{n}: {p}" for n, p in enumerate(PAYLOADS)) + "\nEnd."
EVIL = " ".join(PAYLOADS[:8])

DOM_CHECK = """() => {
  const bad = document.querySelectorAll(
    'img[src="x"], svg[onload], svg *[onload], iframe, object, embed, video, audio, math, base, marquee,'
    + ' [onerror], [onload], [onfocus], [ontoggle], [onstart], [onmouseover], [onclick],'
    + ' a[href^="javascript:" i], form[action^="javascript:" i], meta[http-equiv], input[autofocus]');
  const scripts = [...document.scripts].filter(s => !s.src && s.type !== "application/json");
  return {bad: [...bad].map(e => e.outerHTML.slice(0, 150)),
          inline: scripts.map(s => s.outerHTML.slice(0, 150)),
          styles: [...document.querySelectorAll("style")].map(s => s.outerHTML.slice(0, 150))};
}"""


def seed():
    """Create a project, an annotator and a document whose every string is a payload."""
    schema = default_schema()
    schema["labels"][2]["description"] = EVIL
    amira = make_user("amira")
    make_user("root", role="admin")
    project = make_project(name="Pilot " + EVIL[:150], members=[amira], schema=schema,
                           guidelines="# Rules {{7*7}}\n\n" + "\n\n".join(PAYLOADS))
    with _app().app_context():
        record = {"id": "<b>A1</b>{{7*7}}", "text": TEXT,
                  "meta": {"title": EVIL, "source": "<script>alert(1)</script>", "url": "javascript:alert(1)"},
                  "spans": [{"start": 0, "end": 7, "label": "LOCATION",
                             "attrs": {"normalized": EVIL, "lang": "{{7*7}}"}}]}
        report = importing.import_records(project, [(1, record)], as_user=amira)
        document_id = report.document_ids[0]
        assert db.session.scalar(select(Document.text).where(Document.id == document_id)) == TEXT
        assignment = db.session.scalar(select(Assignment).where(Assignment.document_id == document_id))
    return project.id, document_id, assignment.id


def _app():
    from tests import factories

    return factories._app


def page_urls(app, project_id, document_id):
    """Every page (non-API GET route) of the URL map, filled with the seeded ids."""
    values = {"pid": project_id, "project_id": project_id, "did": document_id, "document_id": document_id,
              "username": "amira"}
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(("/api", "/static", "/healthz", "/login")):
            continue
        if rule.endpoint in {"annotate.annotate", "main.next_document"} or rule.rule.endswith(".csv"):
            continue  # the annotator's pages are opened as the annotator
        if set(rule.arguments) - set(values):
            raise AssertionError(f"no seeded value for {rule.rule}: extend page_urls")
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:\w+:)?{name}>", str(values[name]), path)
        urls.append(path)
        urls.append(f"{path}?project={project_id}&q=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E")
    return sorted(set(urls))


def assert_inert(page, url, dialogs):
    page.goto(url)
    page.wait_for_load_state("networkidle")
    found = page.evaluate(DOM_CHECK)
    assert found["bad"] == [] and found["inline"] == [], (url, found)
    assert not any("display:none" in s for s in found["styles"]), (url, found["styles"])
    assert dialogs == [], (url, dialogs)
    assert page.url.startswith("http://127.0.0.1:"), page.url  # no navigation off-site


def test_payloads_render_as_text_on_every_admin_page(app, page):
    project_id, document_id, _ = seed()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    browser_login(page, "root")
    urls = page_urls(app, project_id, document_id)
    assert len(urls) >= 20
    for url in urls:
        assert_inert(page, url, dialogs)
    page.goto(f"/admin/projects/{project_id}")
    body = page.inner_text("body")
    assert "{{7*7}}" in body and "<img src=x onerror=alert(1)>" in body


def test_payloads_render_as_text_in_the_workspace(app, page):
    project_id, document_id, _ = seed()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    browser_login(page, "amira")
    assert_inert(page, "/", dialogs)
    assert_inert(page, f"/documents/{document_id}/annotate", dialogs)
    page.wait_for_selector('#doc-text[data-ready="true"]')
    # The text is shown literally, with its offsets intact.
    shown = page.evaluate("() => document.querySelector('#doc-text').textContent")
    for payload in ("<img src=x onerror=alert(1)>", "</script><script>alert(1)</script>", "{{7*7}}", "<hr/>"):
        assert payload in shown
    assert "49" not in shown
    span = page.locator("#doc-text [data-span-id]").first
    assert (span.get_attribute("data-start"), span.get_attribute("data-end")) == ("0", "7")
    span.click()  # the side panel shows the attribute payload as text, too
    page.wait_for_timeout(200)
    found = page.evaluate(DOM_CHECK)
    assert found["bad"] == [] and found["inline"] == [], found
    page.keyboard.press("g")  # guidelines
    page.wait_for_timeout(200)
    found = page.evaluate(DOM_CHECK)
    assert found["bad"] == [] and found["inline"] == [], found
    assert dialogs == []


def test_the_check_sees_an_injected_element(browser, live_server):
    """Would the DOM check notice a payload that became markup? (It must not pass vacuously.)"""
    context = browser.new_context(base_url=live_server)
    page = context.new_page()  # not the `page` fixture: CSP will log the blocked handler
    page.goto("/login")
    page.evaluate("() => document.body.insertAdjacentHTML('beforeend', '<img src=x onerror=alert(1)>')")
    assert '<img src="x" onerror="alert(1)">' in page.evaluate(DOM_CHECK)["bad"]
    context.close()
