"""Security headers on every kind of response (docs/security.md 6 D23)."""

import pytest

from tests.factories import make_user
from tests.factories import token_for


@pytest.mark.parametrize("path", ["/login", "/healthz", "/api/v1/openapi.json", "/nope",
                                  "/api/v1/nope", "/static/css/app.css", "/api/v1/me"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    response.close()
    csp = response.headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "object-src 'none'",
                      "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Access-Control-Allow-Origin" not in response.headers


def test_authenticated_json_is_not_cached(client):
    headers = token_for(make_user("amira"))
    assert client.get("/api/v1/me", headers=headers).headers["Cache-Control"] == "no-store"


def test_session_cookie_is_httponly_and_samesite(client):
    header = client.get("/login").headers["Set-Cookie"]
    assert header.startswith("annotator_session=")
    assert "HttpOnly" in header and "SameSite=Lax" in header


def test_secure_cookies_when_configured(make_app):
    app = make_app(SECURE_COOKIES=True)
    response = app.test_client().get("/login")
    assert "Secure" in response.headers["Set-Cookie"]


def test_there_is_no_self_registration(client):
    assert client.get("/register").status_code in (302, 404)
    assert client.post("/api/v1/users", json={"username": "x", "password": "y" * 12}).status_code == 401
