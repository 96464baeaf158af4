"""Every value from a request is checked once, at the edge: ids, integers, text and moments.

Issue 10, defects 3, 4 and 7: out-of-range integers, NUL characters and lone surrogates, and a
moment past the last UTC one gave 500s (OverflowError, DataError, UnicodeEncodeError).
"""

import json
import re

import pytest
from werkzeug.routing import IntegerConverter

from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user
from tests.factories import token_for

TOO_BIG = [2**31, 2**63, 10**30]


@pytest.fixture
def setup(app):
    admin, amira = make_user("admin", role="admin"), make_user("amira")
    project = make_project(name="pilot", members=[amira])
    (document,) = make_documents(project, ["Rockets hit Aleppo on Monday."])
    return {"admin": token_for(admin), "amira": token_for(amira), "project": project.id, "document": document}


def int_routes(app):
    """Every route with an integer in its path, with one method it answers."""
    for rule in app.url_map.iter_rules():
        names = [name for name, converter in rule._converters.items() if isinstance(converter, IntegerConverter)]
        if names:
            method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
            yield rule, names, method


def test_every_integer_route_uses_the_bounded_converter(app):
    plain = [rule.rule for rule in app.url_map.iter_rules()
             if any(type(c).__name__ == "IntegerConverter" for c in rule._converters.values())]
    assert plain == []
    assert len(list(int_routes(app))) >= 25


@pytest.mark.parametrize("number", TOO_BIG)
def test_ids_out_of_range_are_404_on_every_route(app, client, setup, number):
    headers = {**setup["admin"], "Content-Type": "application/json"}
    for rule, names, method in int_routes(app):
        path = rule.rule
        for name in names:
            path = re.sub(rf"<int:{name}>", str(number), path)
        path = re.sub(r"<[^>]+>", "x", path)
        response = client.open(path, method=method, headers=headers, data="{}")
        assert response.status_code == 404, (method, path, response.status_code, response.get_data(as_text=True)[:200])


def test_pages_past_the_last_are_422_naming_page(client, setup):
    for path in (f"/api/v1/projects/{setup['project']}/documents", "/api/v1/users", "/api/v1/projects",
                 f"/api/v1/projects/{setup['project']}/assignments"):
        response = client.get(f"{path}?page=9223372036854775807", headers=setup["admin"])
        assert response.status_code == 422, path
        assert "page" in response.get_json()["errors"], path
    response = client.get("/api/v1/me/assignments?page=9223372036854775807", headers=setup["amira"])
    assert response.status_code == 422 and "page" in response.get_json()["errors"]


@pytest.mark.parametrize("query", ["project=2147483648", "project=-9223372036854775809",
                                   "project=99999999999999999999"])
def test_query_integers_out_of_range_are_422_naming_the_field(client, setup, query):
    response = client.get(f"/api/v1/me/assignments?{query}", headers=setup["amira"])
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["project"]


def test_body_integers_out_of_range_are_422_naming_the_field(client, setup):
    response = client.post(f"/api/v1/projects/{setup['project']}/assignments", headers=setup["admin"],
                           json={"annotators": ["amira"], "per_document": 2**40, "documents": [2**40]})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"per_document", "documents.0"}
    response = client.patch(f"/api/v1/projects/{setup['project']}", headers=setup["admin"],
                            json={"assignment": {"claim_timeout_minutes": 2**31}})
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["assignment.claim_timeout_minutes"]


BAD_TEXT = {"NUL": "a\x00b", "lone surrogate": "a\ud800b", "low surrogate": "\udfff"}


def post_raw(client, path, headers, body, method="POST"):
    """Send ``body`` as JSON text: json.dumps escapes a lone surrogate as \\ud800, as a client would."""
    return client.open(path, method=method, headers={**headers, "Content-Type": "application/json"},
                       data=json.dumps(body))


@pytest.mark.parametrize("bad", BAD_TEXT.values(), ids=BAD_TEXT.keys())
def test_text_that_cannot_be_stored_is_422_naming_the_field(client, setup, bad):
    admin = setup["admin"]
    cases = [
        ("POST", "/api/v1/projects", {"name": bad}, "name"),
        ("POST", "/api/v1/projects", {"name": "ok", "guidelines": bad}, "guidelines"),
        ("PATCH", f"/api/v1/projects/{setup['project']}", {"guidelines": bad}, "guidelines"),
        ("POST", "/api/v1/users", {"username": bad, "password": "long enough pass"}, "username"),
        ("POST", "/api/v1/users", {"username": "someone", "password": "long enough " + bad}, "password"),
        ("PATCH", "/api/v1/users/amira", {"password": "long enough " + bad}, "password"),
        ("POST", f"/api/v1/projects/{setup['project']}/members", {"usernames": [bad]}, "usernames.0"),
    ]
    for method, path, body, field in cases:
        response = post_raw(client, path, admin, body, method)
        assert response.status_code == 422, (path, body, response.get_data(as_text=True)[:300])
        assert field in response.get_json()["errors"], (path, response.get_json())
    response = post_raw(client, "/api/v1/auth/token", {}, {"username": "amira", "password": "x" * 12, "name": bad})
    assert response.status_code == 422 and "name" in response.get_json()["errors"]
    response = post_raw(client, f"/api/v1/documents/{setup['document']}/spans", setup["amira"],
                        {"start": 0, "end": 7, "label": "WEAPON", "attrs": {"note": bad}})
    assert response.status_code == 422 and "attrs" in response.get_json()["errors"]
    response = post_raw(client, f"/api/v1/documents/{setup['document']}/spans", setup["amira"],
                        {"start": 0, "end": 7, "label": "WEAPON", "attrs": {"note": {"deep": [bad]}}})
    assert response.status_code == 422 and "attrs" in response.get_json()["errors"]
    response = post_raw(client, f"/api/v1/documents/{setup['document']}/annotations", setup["amira"],
                        {"spans": [{"start": 0, "end": 7, "label": bad}]}, method="PUT")
    assert response.status_code in (422, 428)


@pytest.mark.parametrize("query", ["q=a%00b", "annotator=a%00b", "status=a%00b"])
def test_query_strings_that_cannot_be_stored_are_422_naming_the_field(client, setup, query):
    response = client.get(f"/api/v1/projects/{setup['project']}/documents?{query}", headers=setup["admin"])
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert query.split("=")[0] in response.get_json()["errors"]


def test_path_text_that_cannot_be_stored_is_404(client, setup):
    assert client.patch("/api/v1/users/a%00b", headers=setup["admin"], json={"role": "reviewer"}).status_code == 404


def test_page_forms_and_queries_get_the_same_rule(client, setup, login):
    make_user("boss", role="admin")
    login("boss")
    response = client.get("/admin/audit?user=a%00b")
    assert response.status_code == 422
    assert "NUL" in response.get_data(as_text=True)


def test_a_moment_past_the_last_utc_one_is_422(client, setup):
    for since in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"):
        response = client.get(f"/api/v1/projects/{setup['project']}/export",
                              query_string={"updated_since": since}, headers=setup["admin"])
        assert response.status_code == 422, since
        assert "updated_since" in response.get_json()["errors"]
    response = client.get(f"/api/v1/projects/{setup['project']}/export",
                          query_string={"updated_since": "2026-11-27T10:00:00-05:00"}, headers=setup["admin"])
    assert response.status_code == 200


def test_a_moment_past_the_last_utc_one_is_refused_by_the_cli(runner, setup):
    result = runner.invoke(args=["export", "pilot", "-o", "-", "--updated-since", "9999-12-31T23:59:59-23:59"])
    assert result.exit_code != 0
    assert "updated_since" in result.output or "ISO 8601" in result.output
    assert "Traceback" not in result.output


def test_audit_page_times_past_the_last_utc_one_are_a_form_error(client, setup, login):
    make_user("boss", role="admin")
    login("boss")
    response = client.get("/admin/audit?until=9999-12-31T23:59")
    assert response.status_code == 200
    response = client.get("/admin/audit?since=9999-12-31T23:59-23:59")
    assert response.status_code == 422


def test_pasted_article_text_keeps_the_imports_own_rule(client, setup, login):
    make_user("boss", role="admin")
    login("boss")
    token = login.page_csrf("/admin/import")
    response = client.post("/admin/import", data={"csrf_token": token, "project": str(setup["project"]),
                                                  "text": "Line one.\nRockets\x00 hit.", "format": "txt"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    # The import's own message, with its line number, not the generic rule for form fields.
    assert "NUL" in page and "line 2" in page.lower()


@pytest.mark.parametrize("value", ["²", "99999999999", "-1", "1e3"])
def test_page_project_choices_that_are_no_id_fall_back(client, setup, login, value):
    make_user("boss", role="admin")
    login("boss")
    assert client.get(f"/admin/documents?project={value}").status_code in (200, 404)
    assert client.get(f"/admin/documents?project={setup['project']}&page={value}").status_code == 200
    assert client.get(f"/admin/audit?page={value}").status_code == 200


def test_nested_errors_are_one_level_of_dotted_keys(client, setup):
    response = client.post(f"/api/v1/projects/{setup['project']}/members", headers=setup["admin"],
                           json={"usernames": ["amira", "x" * 65]})
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["usernames.1"]
    response = client.post("/api/v1/projects", headers=setup["admin"], json={"name": "x", "assignment": [1]})
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["assignment"]
    response = client.get(f"/api/v1/projects/{setup['project']}/export?status=null&status=done",
                          headers=setup["admin"])
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["status"]
    assert [m.split(":")[0] for m in response.get_json()["errors"]["status"]] == ["'null'", "'done'"]
    for messages in response.get_json()["errors"].values():
        assert all(isinstance(m, str) for m in messages)


def test_patterns_match_the_whole_value_not_up_to_a_final_newline(client, setup):
    response = client.post("/api/v1/users", headers=setup["admin"],
                           json={"username": "ab\n", "password": "long enough pass"})
    assert response.status_code == 422 and "username" in response.get_json()["errors"]
    response = client.post(f"/api/v1/documents/{setup['document']}/spans", headers=setup["amira"],
                           json={"id": "s1\n", "start": 0, "end": 7, "label": "WEAPON"})
    assert response.status_code == 422 and "id" in response.get_json()["errors"]


@pytest.mark.parametrize("flag", [0, 1, "true", "yes", None])
def test_json_booleans_are_true_or_false_only(client, setup, flag):
    response = client.patch("/api/v1/users/amira", headers=setup["admin"], json={"active": flag})
    assert response.status_code == 422 and "active" in response.get_json()["errors"]
    response = client.post(f"/api/v1/projects/{setup['project']}/assignments", headers=setup["admin"],
                           json={"annotators": ["amira"], "per_document": 1, "dry_run": flag})
    assert response.status_code == 422 and "dry_run" in response.get_json()["errors"]
    response = client.post(f"/api/v1/projects/{setup['project']}/documents", headers=setup["admin"],
                           json={"documents": [{"text": "New text."}], "skip_invalid": flag})
    assert response.status_code == 422 and "skip_invalid" in response.get_json()["errors"]
