"""The OpenAPI document is complete: every operation says who may call it, what it answers, how.

tests/test_fuzz_api.py checks that the answers agree with the document; these tests check that
the document leaves nothing out, so that a new endpoint cannot join it half-described.
"""

import pytest
from openapi_spec_validator import validate

from annotator.security import PUBLIC_ENDPOINTS

METHODS = {"get", "put", "post", "patch", "delete"}
PUBLIC_OPERATIONS = {endpoint.rsplit(".", 1)[-1] for endpoint in PUBLIC_ENDPOINTS}


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    return document


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation, item.get("parameters", []) + operation.get("parameters", [])


def resolve(spec, response):
    if "$ref" in response:
        return spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response


def test_every_operation_has_an_id_a_tag_and_a_description(spec):
    tags = {tag["name"] for tag in spec["tags"]}
    ids = [operation["operationId"] for _, _, operation, _ in operations(spec)]
    assert len(ids) == len(set(ids))
    for path, method, operation, parameters in operations(spec):
        assert len(operation["tags"]) == 1 and operation["tags"][0] in tags, (method, path)
        assert operation["description"].strip(), (method, path)
        for parameter in parameters:
            assert parameter.get("description"), (method, path, parameter["name"])


def test_security_is_none_only_on_public_operations(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["sessionCookie"]["in"] == "cookie"
    assert schemes["csrfToken"] == {**schemes["csrfToken"], "in": "header", "name": "X-CSRFToken"}
    for path, method, operation, _ in operations(spec):
        if operation["operationId"] in PUBLIC_OPERATIONS:
            assert operation["security"] == [], path
            continue
        cookie = {"sessionCookie": []} if method == "get" else {"sessionCookie": [], "csrfToken": []}
        assert operation["security"] == [{"bearerAuth": []}, cookie], (method, path)
        assert "401" in operation["responses"], (method, path)


def test_every_error_is_the_one_error_schema_and_nothing_is_left_to_default(spec):
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "status", "message"]
    assert error["properties"]["errors"]["additionalProperties"] == {"type": "array", "items": {"type": "string"}}
    for path, method, operation, parameters in operations(spec):
        responses = operation["responses"]
        assert "default" not in responses, (method, path)
        assert {"414", "503"} <= set(responses)
        if any(p["in"] == "path" for p in parameters):
            assert "404" in responses, (method, path)
        if "requestBody" in operation:
            assert {"400", "413", "415", "422"} <= set(responses), (method, path)
        for code, response in responses.items():
            if code >= "400":
                content = resolve(spec, response)["content"]
                assert content == {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def test_role_restricted_operations_document_403(spec, app):
    restricted = {endpoint.split(".", 1)[1] for endpoint, view in app.view_functions.items()
                  if getattr(view, "required_roles", None)}
    assert "create_user" in restricted
    for path, method, operation, _ in operations(spec):
        if operation["operationId"] in restricted:
            assert "403" in operation["responses"], (method, path)


def test_versions_replays_dry_runs_and_pagination_are_declared(spec):
    paths = spec["paths"]
    create_span = paths["/api/v1/documents/{did}/spans"]["post"]
    assert {"200", "201", "409", "412"} <= set(create_span["responses"])
    assert create_span["responses"]["201"]["headers"]["ETag"] == {"$ref": "#/components/headers/ETag"}
    if_match = next(p for p in create_span["parameters"] if p["name"] == "If-Match")
    assert if_match["in"] == "header" and if_match["required"] is False
    replace = paths["/api/v1/documents/{did}/annotations"]["put"]
    assert next(p for p in replace["parameters"] if p["name"] == "If-Match")["required"] is True
    assert "428" in replace["responses"]
    assert {"200", "201"} <= set(paths["/api/v1/projects/{pid}/assignments"]["post"]["responses"])
    assert spec["components"]["headers"]["Pagination"]["content"]["application/json"]
    listed = paths["/api/v1/users"]["get"]["responses"]["200"]["headers"]
    assert listed["X-Pagination"] == {"$ref": "#/components/headers/Pagination"}
    assert "429" in paths["/api/v1/auth/token"]["post"]["responses"]


def test_limits_nulls_and_media_types_are_in_the_schemas(spec):
    schemas = spec["components"]["schemas"]
    assert schemas["UserIn"]["properties"]["password"]["minLength"] == 10
    assert schemas["UserIn"]["properties"]["username"]["pattern"]
    assert schemas["SpanIn"]["properties"]["id"]["pattern"]
    assert schemas["AssignmentSettings"]["properties"]["per_document"]["maximum"] == 50
    assert schemas["AssignmentOut"]["properties"]["claim_expires_at"]["nullable"] is True
    export = spec["paths"]["/api/v1/projects/{pid}/export"]["get"]["responses"]["200"]["content"]
    assert {"application/x-ndjson", "text/plain", "application/zip"} == set(export)
    csv = spec["paths"]["/api/v1/projects/{pid}/progress.csv"]["get"]["responses"]["200"]["content"]
    assert set(csv) == {"text/csv"}


def test_links_name_existing_operations(spec):
    ids = {operation["operationId"] for _, _, operation, _ in operations(spec)}
    linked = 0
    for _, _, operation, _ in operations(spec):
        for response in operation["responses"].values():
            for link in response.get("links", {}).values():
                assert link["operationId"] in ids
                linked += 1
    assert linked > 20
