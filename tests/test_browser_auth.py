"""Logging in through the real login page in headless Chromium."""

import pytest

from tests.conftest import browser_login
from tests.factories import make_user

pytestmark = pytest.mark.browser


def test_user_logs_in_and_out_in_the_browser(page, tmp_path):
    make_user("amira")
    browser_login(page, "amira")
    assert page.locator(".who").inner_text().startswith("amira")
    page.screenshot(path=str(tmp_path / "home.png"))
    page.click("text=Log out")
    page.wait_for_url("**/login")
    page.goto("/")
    assert "/login" in page.url


def test_wrong_password_shows_an_error_in_the_browser(page):
    make_user("amira")
    page.goto("/login")
    page.fill("input[name=username]", "amira")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text() == "Wrong username or password."
