"""User management through the API."""

from tests.factories import make_user
from tests.factories import token_for


def test_admin_can_create_list_and_update_users(client):
    admin = token_for(make_user("root", role="admin"))
    created = client.post("/api/v1/users", headers=admin,
                          json={"username": "amira", "password": "a long password", "role": "annotator"})
    assert created.status_code == 201
    assert created.json["username"] == "amira" and "password" not in created.json
    listing = client.get("/api/v1/users?page_size=1&page=2", headers=admin)
    assert listing.status_code == 200 and [u["username"] for u in listing.json] == ["amira"]
    assert '"total": 2' in listing.headers["X-Pagination"]
    patched = client.patch("/api/v1/users/amira", headers=admin, json={"role": "reviewer"})
    assert patched.status_code == 200 and patched.json["role"] == "reviewer"


def test_creating_a_user_with_bad_fields_gets_field_errors(client):
    admin = token_for(make_user("root", role="admin"))
    response = client.post("/api/v1/users", headers=admin,
                           json={"username": "<b>x</b>", "password": "short", "role": "annotator"})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"username", "password"}
    response = client.post("/api/v1/users", headers=admin,
                           json={"username": "ok", "password": "a long password", "role": "god"})
    assert response.status_code == 422 and "role" in response.json["errors"]


def test_unknown_or_read_only_fields_are_refused(client):
    admin = token_for(make_user("root", role="admin"))
    response = client.post("/api/v1/users", headers=admin,
                           json={"username": "amira", "password": "a long password", "id": 1})
    assert response.status_code == 422 and "id" in response.json["errors"]


def test_duplicate_username_is_409(client):
    admin = token_for(make_user("root", role="admin"))
    make_user("amira")
    response = client.post("/api/v1/users", headers=admin,
                           json={"username": "Amira", "password": "a long password"})
    assert response.status_code == 409 and response.json["errors"] == {"username": ["Already taken."]}


def test_annotator_cannot_manage_users_or_promote_itself(client):
    me = token_for(make_user("amira"))
    assert client.patch("/api/v1/users/amira", headers=me, json={"role": "admin"}).status_code == 403
    assert client.get("/api/v1/users", headers=me).status_code == 403
    assert client.get("/api/v1/me", headers=me).json["role"] == "annotator"


def test_patching_an_unknown_user_is_404(client):
    admin = token_for(make_user("root", role="admin"))
    response = client.patch("/api/v1/users/ghost", headers=admin, json={"active": False})
    assert response.status_code == 404 and response.json["code"] == 404


def test_error_payload_is_json_and_never_echoes_markup(client):
    me = token_for(make_user("amira"))
    response = client.get("/api/v1/documents/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", headers=me)
    assert response.status_code == 404
    assert response.content_type == "application/json"
    assert "<img" not in response.get_data(as_text=True)


def test_a_deeply_nested_json_body_is_a_clear_400(client):
    admin = token_for(make_user("root", role="admin"))
    body = "[" * 10_000 + "]" * 10_000
    response = client.post("/api/v1/users", headers={**admin, "Content-Type": "application/json"}, data=body)
    assert response.status_code == 400
    assert response.json["message"] == "The JSON is nested too deeply."
