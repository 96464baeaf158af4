"""What the API takes: JSON bodies labelled as JSON (415 otherwise), strict JSON (400 with
``errors.json``), and URLs no longer than ANNOTATOR_MAX_URL_LENGTH (414 in the error payload)."""

import io

import pytest
from werkzeug.routing import IntegerConverter

from annotator import create_app
from tests.conftest import base_config
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user
from tests.factories import token_for


def json_body_routes():
    """Return (endpoint, method, url) for every route that reads a JSON body with @blp.arguments."""
    app = create_app(base_config("sqlite://"))
    found = []
    for rule in app.url_map.iter_rules():
        parameters = getattr(app.view_functions[rule.endpoint], "_apidoc", {}).get("arguments", {})
        if not any(p.get("in") == "json" for p in parameters.get("parameters", [])):
            continue
        url = rule.rule
        for name, converter in rule._converters.items():
            value = "999999" if isinstance(converter, IntegerConverter) else "x"
            url = url.replace(f"<int:{name}>", value).replace(f"<{name}>", value)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS", "GET"}):
            found.append((rule.endpoint, method, url))
    return found


JSON_ROUTES = json_body_routes()


@pytest.fixture
def admin(app):
    return token_for(make_user("boss", role="admin"))


def test_every_json_endpoint_is_found():
    assert len(JSON_ROUTES) >= 10


def test_a_json_body_sent_as_text_plain_is_415_everywhere(client, admin):
    for endpoint, method, url in JSON_ROUTES:
        response = client.open(url, method=method, headers={**admin, "Content-Type": "text/plain"},
                               data='{"name": "pilot"}')
        assert response.status_code == 415, (endpoint, response.status_code, response.json)
        assert response.json["code"] == 415
        assert response.json["errors"] == {"Content-Type": ["Must be application/json, not text/plain."]}
        assert "application/json" in response.json["message"]


@pytest.mark.parametrize("content_type, body", [
    ("text/plain; charset=utf-8", '{"name": "pilot"}'),
    ("application/x-www-form-urlencoded", "name=pilot"),
    ("multipart/form-data; boundary=x", '--x\r\nContent-Disposition: form-data; name="name"\r\n\r\npilot\r\n--x--\r\n'),
    (None, '{"name": "pilot"}'),
])
def test_bodies_that_are_not_json_are_415_not_missing_data(client, admin, content_type, body):
    headers = {**admin, **({"Content-Type": content_type} if content_type else {})}
    response = client.post("/api/v1/projects", headers=headers, data=body)
    assert response.status_code == 415, response.json
    assert "Missing data" not in response.get_data(as_text=True)


def test_json_types_and_no_body_at_all_still_work(client, admin):
    created = client.post("/api/v1/projects", headers={**admin, "Content-Type": "application/json; charset=utf-8"},
                          data='{"name": "pilot"}')
    assert created.status_code == 201, created.json
    patched = client.patch(f"/api/v1/projects/{created.json['id']}",
                           headers={**admin, "Content-Type": "application/merge-patch+json"}, data='{"name": "p2"}')
    assert patched.status_code == 200 and patched.json["name"] == "p2"
    # No body and no Content-Type: the schema names what is missing.
    missing = client.post("/api/v1/projects", headers=admin)
    assert missing.status_code == 422 and "name" in missing.json["errors"]
    empty = client.post("/api/v1/projects", headers={**admin, "Content-Type": "application/json"}, data="")
    assert empty.status_code == 422 and "name" in empty.json["errors"]


BAD_JSON = [
    (b'{"name": "pilot"', "Not valid JSON"),
    (b'{"name": "pilot"} {}', "extra data"),
    (b'{"name": NaN}', "NaN"),
    (b'{"name": "\xff"}', "UTF-8"),
    (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
]


@pytest.mark.parametrize("body, reason", BAD_JSON, ids=[reason for _, reason in BAD_JSON])
def test_malformed_json_is_400_with_errors_keyed_json(app, client, admin, body, reason):
    project = make_project(name="pilot")
    (did,) = make_documents(project, ["Some text."])
    urls = [("POST", "/api/v1/projects"), ("PATCH", f"/api/v1/projects/{project.id}"),
            ("POST", f"/api/v1/projects/{project.id}/members"), ("POST", "/api/v1/users"),
            ("PUT", f"/api/v1/documents/{did}/annotations"), ("POST", "/api/v1/auth/token"),
            ("POST", f"/api/v1/projects/{project.id}/documents")]
    for method, url in urls:
        response = client.open(url, method=method, data=body,
                               headers={**admin, "Content-Type": "application/json", "If-Match": "0"})
        assert response.status_code == 400, (url, response.status_code, response.json)
        errors = response.json["errors"]
        assert isinstance(errors, dict) and list(errors) == ["json"], (url, response.json)
        assert reason in errors["json"][0] and reason in response.json["message"], (url, response.json)


def test_the_import_takes_json_and_multipart_and_refuses_other_types(app, client, admin):
    project = make_project(name="pilot")
    url = f"/api/v1/projects/{project.id}/documents"
    by_json = client.post(url, headers=admin, json={"documents": [{"text": "One."}]})
    assert by_json.status_code == 201 and by_json.json["created"] == 1
    upload = client.post(url, headers=admin, data={"file": (io.BytesIO(b'{"text": "Two."}\n'), "two.jsonl")})
    assert upload.status_code == 201 and upload.json["created"] == 1, upload.json
    for content_type, body in [("text/plain", '{"documents": [{"text": "Three."}]}'),
                               ("application/x-www-form-urlencoded", "documents=x")]:
        refused = client.post(url, headers={**admin, "Content-Type": content_type}, data=body)
        assert refused.status_code == 415, refused.json
        assert refused.json["errors"] == {
            "Content-Type": [f"Must be application/json or multipart/form-data, not {content_type}."]}


def test_a_url_longer_than_the_limit_is_a_json_414(app, client, admin):
    limit = app.config["MAX_URL_LENGTH"]
    base = "/api/v1/users?page=1&q="
    at_limit = client.get(base + "x" * (limit - len(base)), headers=admin)
    assert at_limit.status_code != 414
    response = client.get(base + "x" * (limit - len(base) + 1), headers=admin)
    assert response.status_code == 414
    assert response.json == {"code": 414, "status": "Request URI Too Long",
                             "message": f"The URL is longer than the limit of {limit:,} characters; "
                                        "send fewer or shorter query parameters."}
    # Anonymous callers and unknown paths get the same answer: the length is checked first.
    assert client.get("/api/v1/" + "x" * limit).status_code == 414
    page = client.get("/?q=" + "x" * limit)
    assert page.status_code == 414 and "text/html" in page.content_type


def test_the_url_limit_is_configurable(make_app):
    app = make_app(MAX_URL_LENGTH=100)
    client = app.test_client()
    assert client.get("/healthz?" + "x" * 100).status_code == 414
    assert client.get("/healthz?" + "x" * 50).status_code == 200
