"""Login, sessions, tokens, rate limits and CSRF (docs/security.md 6 A and D)."""

import re

import pytest

from annotator.extensions import db
from annotator.models import LoginSession
from annotator.services import users
from tests.factories import PASSWORD
from tests.factories import make_user
from tests.factories import token_for

SESSION_COOKIE = "annotator_session"


def cookie(client):
    item = client.get_cookie(SESSION_COOKIE)
    return item.value if item else None


def test_user_can_log_in_and_reach_home(client, login):
    make_user("amira")
    response = login("amira")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "amira" in client.get("/").get_data(as_text=True)


def test_wrong_password_and_unknown_user_get_the_same_answer(client, login):
    make_user("amira")
    wrong = login("amira", "not the password")
    unknown = login("nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda r: re.sub(r'(csrf[-_]token" (content|value)=")[^"]+', r"\1", r.get_data(as_text=True))  # noqa: E731
    assert strip(wrong).replace("amira", "X") == strip(unknown).replace("nobody", "X")


def test_api_token_errors_do_not_enumerate_users(client, app):
    make_user("amira")
    wrong = client.post("/api/v1/auth/token", json={"username": "amira", "password": "x" * 12})
    unknown = client.post("/api/v1/auth/token", json={"username": "ghost", "password": "x" * 12})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json


def test_session_cookie_changes_at_login_and_old_cookie_is_anonymous(app, client, login):
    make_user("amira")
    client.get("/login")
    before = cookie(client)
    login("amira")
    after = cookie(client)
    assert before and after and before != after
    planted = app.test_client()
    planted.set_cookie(SESSION_COOKIE, before)
    assert planted.get("/api/v1/me").status_code == 401


def test_logout_kills_a_copied_cookie(app, client, login):
    make_user("amira")
    login("amira")
    copied = cookie(client)
    token = login.page_csrf()
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    replay = app.test_client()
    replay.set_cookie(SESSION_COOKIE, copied)
    assert replay.get("/api/v1/me").status_code == 401
    assert replay.get("/").headers["Location"].startswith("/login")


def test_get_logout_changes_nothing(client, login):
    make_user("amira")
    login("amira")
    assert client.get("/logout").status_code == 405
    assert client.get("/api/v1/me").status_code == 200


@pytest.mark.parametrize("change", [{"active": False}, {"password": "a brand new secret"}])
def test_deactivation_or_password_change_ends_sessions_and_tokens(app, change):
    amira = make_user("amira")
    browsers = [app.test_client(), app.test_client()]
    for browser in browsers:
        assert _login(browser, "amira").status_code == 302
    headers = token_for(amira)
    with app.app_context():
        users.update_user("amira", **change)
    for browser in browsers:
        assert browser.get("/api/v1/me").status_code == 401
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 401
    with app.app_context():
        assert db.session.query(LoginSession).count() == 0


def _login(client, username, password=PASSWORD):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example", "/\\evil.example",
                                    "javascript:alert(1)", "/%0d%0aLocation:evil"])
def test_login_ignores_off_site_next(client, login, target):
    make_user("amira")
    response = login("amira", next_url=target)
    assert response.headers["Location"] in ("/", target) and response.headers["Location"] == "/" or \
        response.headers["Location"].startswith("/%0d")


def test_login_follows_a_local_next(client, login):
    make_user("amira")
    assert login("amira", next_url="/api/v1/me").headers["Location"] == "/api/v1/me"


def test_login_without_csrf_token_is_refused(client, app):
    make_user("amira")
    client.get("/login")
    response = client.post("/login", data={"username": "amira", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/api/v1/me").status_code == 401


def test_failed_logins_are_limited_per_account(client, login):
    make_user("amira")
    make_user("bruno")
    codes = [login("amira", "wrong password!").status_code for _ in range(12)]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
    limited = login("amira")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    # Another account, from another address, is unaffected.
    assert login("bruno", address="192.0.2.7").status_code == 302


def test_failed_token_requests_count_against_the_same_account(client, app):
    make_user("amira")
    for _ in range(10):
        client.post("/api/v1/auth/token", json={"username": "amira", "password": "wrong password!"})
    response = client.post("/api/v1/auth/token", json={"username": "amira", "password": PASSWORD})
    assert response.status_code == 429
    assert response.json["code"] == 429 and "Retry-After" in response.headers


def test_failed_logins_are_limited_per_address(app, make_app):
    # The per-address limit is its own setting, higher than the per-account one by default.
    client = make_app(LOGIN_ADDRESS_LIMIT="10 per 15 minutes").test_client()
    for n in range(10):
        client.post("/api/v1/auth/token", json={"username": f"ghost{n}", "password": "x" * 12})
    make_user("amira")
    response = client.post("/api/v1/auth/token", json={"username": "amira", "password": PASSWORD})
    assert response.status_code == 429


def test_successful_logins_are_not_counted(client, login):
    make_user("amira")
    for _ in range(12):
        assert login("amira").status_code == 302


def test_bearer_token_authenticates_api_calls_without_csrf(client, app):
    make_user("amira")
    response = client.post("/api/v1/auth/token", json={"username": "amira", "password": PASSWORD})
    assert response.status_code == 201
    token = response.json["token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json == {"username": "amira", "role": "annotator"}
    with app.app_context():
        stored = db.session.scalar(db.select(users.ApiToken.token_hash))
    assert stored == users.digest(token) and token not in stored


def test_invalid_bearer_token_is_401_even_with_a_session_cookie(client, login):
    make_user("amira")
    login("amira")
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json["code"] == 401


def test_cookie_authenticated_api_write_needs_the_csrf_header(client, login):
    make_user("root", role="admin")
    login("root")
    body = {"username": "newbie", "password": "a long password", "role": "annotator"}
    refused = client.post("/api/v1/users", json=body)
    assert refused.status_code == 400 and "CSRF" in refused.json["message"]
    accepted = client.post("/api/v1/users", json=body, headers={"X-CSRFToken": login.page_csrf()})
    assert accepted.status_code == 201


def test_inactive_user_cannot_log_in(client, login):
    make_user("amira", active=False)
    assert login("amira").status_code == 401
