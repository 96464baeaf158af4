"""Cross-site writes with a valid session cookie and no CSRF token (docs/security.md 6 D21, D22).

The routes are taken from the URL map, so every new write endpoint is covered the day it lands.
"""

import pytest

from annotator.security import CSRF_EXEMPT_ENDPOINTS
from tests.factories import make_user
from tests.test_access import ROUTES

UNSAFE = [(e, m, u) for e, m, u in ROUTES if m in {"POST", "PUT", "PATCH", "DELETE"}
          and e not in CSRF_EXEMPT_ENDPOINTS]
BODIES = [
    ("text/plain", '{"username": "mallory", "password": "a long password"}'),
    ("application/x-www-form-urlencoded", "username=mallory&password=a+long+password"),
    ("application/json", '{"username": "mallory", "password": "a long password"}'),
]


def test_there_are_write_routes_to_check():
    assert len(UNSAFE) >= 3


@pytest.mark.parametrize("content_type, body", BODIES, ids=[b[0] for b in BODIES])
def test_cookie_writes_without_csrf_token_are_refused_everywhere(client, login, content_type, body):
    make_user("root", role="admin")
    assert login("root").status_code == 302
    for endpoint, method, url in UNSAFE:
        response = client.open(url, method=method, data=body, content_type=content_type,
                               headers={"Origin": "https://evil.example", "Referer": "https://evil.example/x"})
        assert response.status_code == 400, (endpoint, method, response.status_code)
        assert "CSRF" in response.get_data(as_text=True), endpoint
    # Nothing was stored and the admin is still logged in.
    me = client.get("/api/v1/users")
    assert [u["username"] for u in me.json] == ["root"]


def test_safe_methods_change_nothing(client, login):
    make_user("root", role="admin")
    login("root")
    assert client.get("/logout").status_code == 405
    assert client.get("/api/v1/users?_method=DELETE").status_code == 200
    assert client.get("/api/v1/me").json["username"] == "root"
