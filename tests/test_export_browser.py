"""The export in a real browser: UTF-16 offsets as JavaScript counts them, and the export page."""

import json

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login
from tests.factories import corpus_records
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user
from tests.factories import token_for
from tests.test_export import TRICKY
from tests.test_export import submit_all

pytestmark = pytest.mark.browser


@pytest.fixture
def project(app):
    """The first sample articles and an emoji-rich one, as amira's submitted work."""
    make_user("root", role="admin")
    amira = make_user("amira")
    project = make_project("Browser export", members=[amira])
    start = TRICKY.index("Benghazi")
    rockets = TRICKY.index("3 rockets")
    records = corpus_records()[:3] + [{"text": TRICKY, "spans": [
        {"start": start, "end": start + 8, "label": "LOCATION"},
        {"start": rockets + 2, "end": rockets + 9, "label": "WEAPON"},
        {"start": TRICKY.index("Ansar"), "end": TRICKY.index("Ansar") + 15, "label": "ACTOR"}]}]
    make_documents(project, records, as_user=amira)
    submit_all(app)
    return project


def test_exported_utf16_offsets_are_the_browsers(client, page, project):
    body = client.get(f"/api/v1/projects/{project.id}/export", headers=token_for(make_user("r2", role="admin")))
    records = [json.loads(line) for line in body.get_data(as_text=True).splitlines()]
    assert any(r["text"] == TRICKY for r in records)
    page.goto("/login")
    seen = page.evaluate("""(records) => records.map((record) => record.spans.map((span) => {
        const points = Array.from(record.text);  // one entry per code point, as Python counts
        const start = points.slice(0, span.start).join("").length;  // UTF-16 units
        const end = points.slice(0, span.end).join("").length;
        return [start, end, record.text.slice(span.utf16[0], span.utf16[1]) === span.text];
    }))""", records)
    for record, spans in zip(records, seen, strict=True):
        assert [[s["utf16"][0], s["utf16"][1], True] for s in record["spans"]] == spans
    tricky = next(r for r in records if r["text"] == TRICKY)
    benghazi = next(s for s in tricky["spans"] if s["text"] == "Benghazi")
    assert benghazi["utf16"][0] == benghazi["start"] + 4


def test_admin_exports_from_the_page_with_a_live_count(page, project, tmp_path):
    browser_login(page, "root")
    page.click(".admin-links >> text=Export")
    page.click(f"#export-projects >> text={project.name}")
    count = page.locator("#export-count")
    assert count.get_attribute("data-records") == "4"
    # No submitted work left once only in-progress work is asked for.
    page.uncheck("input[name=status][value=submitted]")
    page.check("input[name=status][value=in_progress]")
    expect(count).to_have_attribute("data-records", "0")
    page.check("input[name=status][value=submitted]")
    page.uncheck("input[name=status][value=in_progress]")
    page.fill("input[name=split]", "80,10,5")
    errors = page.locator("#export-errors")
    expect(errors).to_be_visible()
    expect(errors).to_contain_text("split")
    expect(page.locator("#export-download")).to_be_disabled()
    page.fill("input[name=split]", "50,25,25")
    expect(count).to_have_attribute("data-state", "ready")
    expect(count).to_contain_text("split: train")
    assert count.get_attribute("data-records") == "4"
    with page.expect_download() as download_info:
        page.click("#export-download")
    download = download_info.value
    assert download.suggested_filename == "browser-export.jsonl"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    records = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 4 and {r["split"] for r in records} <= {"train", "dev", "test"}
    assert any(r["text"] == TRICKY for r in records)
