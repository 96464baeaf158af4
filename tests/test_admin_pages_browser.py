"""Admin pages in headless Chromium: the schema form editor, the dashboard, the assignment page."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Assignment
from annotator.models import Project
from annotator.models import now_utc
from tests.conftest import browser_login
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user

pytestmark = pytest.mark.browser


def test_admin_edits_the_schema_with_the_form_editor(app, page):
    make_user("boss", role="admin")
    project = make_project(name="pilot")
    browser_login(page, "boss")
    page.goto(f"/admin/projects/{project.id}")
    page.wait_for_selector("#schema-editor[data-ready=true]")
    assert page.locator(".label-card").count() == 4
    page.click("#add-label")
    card = page.locator(".label-card").last
    name = card.locator("[data-field=name]")
    name.fill("ATTACK")
    name.press("Tab")
    card = page.locator('.label-card[data-label="ATTACK"]')
    assert card.locator("[data-field=hotkey]").input_value() == "5"
    card.locator("[data-action=add-attribute]").click()
    card.locator("[data-field=attr-name]").fill("kind")
    card.locator("[data-field=values]").fill("air, ground")
    page.click("#add-relation")
    row = page.locator("#relation-types tbody tr").last
    row.locator("[data-field=relation-name]").fill("attack_place")
    row.locator('[data-end=head] input[value="ATTACK"]').check()
    row.locator('[data-end=tail] input[value="LOCATION"]').check()
    # A duplicate hotkey is flagged at once, before the server refuses it.
    card.locator("[data-field=hotkey]").select_option("1")
    assert "Hotkey 1 is used by ACTOR and ATTACK" in page.locator(".problems").inner_text()
    card.locator("[data-field=hotkey]").select_option("5")
    assert page.locator(".problems li").count() == 0
    page.click("#save-project")
    page.wait_for_selector(".flash.ok")
    with app.app_context():
        schema = db.session.get(Project, project.id).schema
        version = db.session.get(Project, project.id).schema_version
    attack = next(label for label in schema["labels"] if label["name"] == "ATTACK")
    assert attack["hotkey"] == "5" and attack["attributes"][0]["values"] == ["air", "ground"]
    assert {"name": "attack_place", "head": ["ATTACK"], "tail": ["LOCATION"]}.items() <= next(
        r for r in schema["relations"] if r["name"] == "attack_place").items()
    assert version == 2


def test_raw_json_edits_apply_to_the_form_and_errors_are_shown(app, page):
    make_user("boss", role="admin")
    project = make_project(name="pilot")
    browser_login(page, "boss")
    page.goto(f"/admin/projects/{project.id}")
    page.wait_for_selector("#schema-editor[data-ready=true]")
    page.click("#raw-json summary")
    page.fill("#schema-json", '{"labels": [{"name": "ONLY", "hotkey": "1"}], "relations": []}')
    page.click("#apply-json")
    assert page.locator(".label-card").count() == 1
    page.click("#save-project")
    # The stored ACTOR, WEAPON... labels are not used by any span, so the schema is saved.
    page.wait_for_selector(".flash.ok")
    page.click("#raw-json summary")
    page.fill("#schema-json", "{broken")
    page.click("#save-project")
    page.wait_for_selector(".form-errors")
    assert "Not valid JSON" in page.locator(".form-errors").inner_text()
    assert page.locator("#raw-json[open]").count() == 1
    assert page.locator("#schema-json").input_value() == "{broken"  # the admin's text is kept to fix
    with app.app_context():
        assert [label["name"] for label in db.session.get(Project, project.id).schema["labels"]] == ["ONLY"]


def test_dashboard_draws_charts_and_refreshes(app, page):
    make_user("rev", role="reviewer")
    amira = make_user("amira")
    project = make_project(name="pilot", members=[amira])
    ids = make_documents(project, ["First text.", "Second text."])
    with app.app_context():
        now = now_utc()
        db.session.add_all([Assignment(document_id=ids[0], user_id=amira.id, status="submitted",
                                       started_at=now, finished_at=now),
                            Assignment(document_id=ids[1], user_id=amira.id, status="assigned")])
        db.session.commit()
    browser_login(page, "rev")
    page.goto(f"/admin/projects/{project.id}/progress")
    page.wait_for_selector("body[data-progress-ready=true]")
    assert page.locator("#chart-annotators svg rect").count() >= 2
    assert page.locator("#chart-completion > svg").count() == 1
    assert page.locator('#summary [data-key="completion"]').inner_text() == "50%"
    with app.app_context():
        db.session.execute(Assignment.__table__.update().values(status="submitted", finished_at=now_utc()))
        db.session.commit()
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(page.locator('#summary [data-key="completion"]')).to_have_text("100%")
    assert page.locator('#annotator-table tr[data-annotator="amira"] td').nth(4).inner_text() == "2"
    with page.expect_download() as download:
        page.click("#csv-download")
    assert download.value.suggested_filename == f"progress-{project.id}.csv"


def test_admin_assigns_a_ticked_selection_and_unassigns(app, page):
    make_user("boss", role="admin")
    project = make_project(name="pilot", members=[make_user("ann1"), make_user("ann2")])
    ids = make_documents(project, [f"Text number {i}." for i in range(4)])
    browser_login(page, "boss")
    page.goto(f"/admin/projects/{project.id}/assign")
    page.check(f'tr[data-document-id="{ids[0]}"] input.pick')
    page.check(f'tr[data-document-id="{ids[1]}"] input.pick')
    assert page.locator('input[name=scope][value=selection]').is_checked()
    page.fill("input[name=per_document]", "2")
    page.click("button[value=assign]")
    page.wait_for_selector("#assign-result")
    assert page.locator("#assign-result").get_attribute("data-created") == "4"
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator(f'tr[data-document-id="{ids[0]}"] .assignee').first.locator("button.danger").click()
    page.wait_for_selector(".flash.ok")
    with app.app_context():
        assert len(db.session.scalars(select(Assignment)).all()) == 3
