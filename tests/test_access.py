"""Every route is protected: walk the URL map so no new endpoint can ship open."""

import pytest
from werkzeug.routing import IntegerConverter

from annotator import create_app
from annotator.security import PUBLIC_ENDPOINTS
from tests.conftest import base_config
from tests.factories import make_user
from tests.factories import token_for

SKIP_METHODS = {"HEAD", "OPTIONS"}


def routes():
    """Return (endpoint, method, url) for every route, with placeholder arguments."""
    app = create_app(base_config("sqlite://"))
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        values = {arg: ("999999" if isinstance(rule._converters[arg], IntegerConverter)
                        else "x") for arg in rule.arguments}
        url = rule.rule
        for arg, value in values.items():
            url = url.replace(f"<int:{arg}>", value).replace(f"<{arg}>", value)
            url = url.replace(f"<string:{arg}>", value).replace(f"<path:{arg}>", value)
        for method in sorted(rule.methods - SKIP_METHODS):
            found.append((rule.endpoint, method, url))
    return found


def required_roles(app, endpoint):
    view = app.view_functions[endpoint]
    while view is not None:
        if hasattr(view, "required_roles"):
            return view.required_roles
        view = getattr(view, "__wrapped__", None) or getattr(view, "view_class", None)
        if isinstance(view, type):  # a MethodView: roles sit on its methods
            return None
    return None


ROUTES = routes()


def test_the_route_list_is_not_empty():
    assert len(ROUTES) >= 5


@pytest.mark.parametrize("endpoint, method, url", ROUTES, ids=[f"{m} {u}" for _, m, u in ROUTES])
def test_anonymous_user_cannot_reach(client, endpoint, method, url):
    response = client.open(url, method=method)
    if url.startswith("/api/"):
        assert response.status_code == 401, (endpoint, response.status_code)
        assert response.json["code"] == 401
    else:
        assert response.status_code == 302, (endpoint, response.status_code)
        assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("role", ["annotator", "reviewer"])
def test_user_without_the_role_gets_403(app, client, role):
    """Does every role-restricted route (API and pages) refuse users of other roles?"""
    user = make_user(f"a-{role}", role=role)
    headers = token_for(user)
    checked = 0
    for endpoint, method, url in ROUTES:
        roles = required_roles(app, endpoint)
        if roles is None or role in roles:
            continue
        response = client.open(url, method=method, headers=headers, json={})
        assert response.status_code == 403, (endpoint, method, response.status_code)
        checked += 1
    assert checked >= 3
