"""The OpenAPI document tells the whole truth: who may call, what comes back, how it links.

flask-smorest documents what the decorators say: the arguments, the success response, the
pagination. :class:`HonestSpec`, an apispec plugin, adds to every operation as it is registered
what the decorators do not, from the route and the view (so a new endpoint is documented by the
same rules, with no boilerplate of its own):

- an ``operationId`` (the view's name), a tag people read, and a description naming the roles;
- ``security``: none on :data:`annotator.security.PUBLIC_ENDPOINTS`, else a bearer token or the
  session cookie, the cookie with the CSRF header on writes;
- every error the operation can answer, all with the one payload of :mod:`annotator.errors`:
  derived from the route (401 behind the login, 403 for ``require_role`` views, 404 for ids in
  the path, 400/413/415/422 for a body, 414 and 503 everywhere) plus
  :data:`.endpoints.DOMAIN_ERRORS`, what only the services know (409, 412, 428, 429...). There
  is no ``default`` response: a code the document does not list is a bug the fuzzer reports
  (tests/test_fuzz_api.py);
- the other answers of :data:`.endpoints.ALTERNATIVE_SUCCESS` (a create's replay, a dry run);
- ``If-Match`` and ``ETag`` on the versioned annotation writes, ``X-Pagination`` as the JSON it
  is, ``Retry-After`` on 429 and 503;
- the text rule, as a pattern on every text field that has none of its own (:data:`NO_NUL`);
- :data:`.endpoints.LINKS` between operations, for clients and the fuzzer's stateful phase.

Here are the rules and what the whole document shares (the error payload, the security
schemes, the headers); what is particular to a blueprint or an endpoint is in the tables of
:mod:`.endpoints`.
"""

from copy import deepcopy

from apispec import BasePlugin

from annotator.api.openapi.endpoints import ALTERNATIVE_SUCCESS
from annotator.api.openapi.endpoints import DOMAIN_ERRORS
from annotator.api.openapi.endpoints import IF_MATCH_REQUIRED
from annotator.api.openapi.endpoints import LINKS
from annotator.api.openapi.endpoints import MEDIA_TYPES
from annotator.api.openapi.endpoints import NON_EMPTY_BODIES
from annotator.api.openapi.endpoints import PATH_PARAMETERS
from annotator.api.openapi.endpoints import QUERY_PARAMETERS
from annotator.api.openapi.endpoints import TAGS
from annotator.api.openapi.endpoints import VERSIONED
from annotator.choices import ROLES

BEARER = "bearerAuth"
COOKIE = "sessionCookie"
CSRF = "csrfToken"
SAFE_METHODS = {"get", "head", "options"}

API_DESCRIPTION = """The JSON API of Conflict Annotator.

Authenticate with a bearer token (POST /api/v1/auth/token) or, from the browser, the session
cookie; cookie writes carry the page's CSRF token as X-CSRFToken. Every error has one shape
(the Error schema). Text fields never hold the NUL character or a lone surrogate (422 naming
the field). Offsets are code points, end-exclusive. Annotation writes are versioned: send the
last ETag as If-Match, and a stale one is 412."""

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error, under /api (annotator.errors).",
    "required": ["code", "status", "message"],
    "additionalProperties": False,
    "properties": {
        "code": {"type": "integer", "minimum": 400, "maximum": 599,
                 "description": "The HTTP status code."},
        "status": {"type": "string", "description": "The status code's reason phrase."},
        "message": {"type": "string", "description": "One sentence for people."},
        "errors": {
            "type": "object",
            "description": "What is wrong, by field: the field's name (dotted inside nested "
                           "objects, e.g. relations.0.head; the line or record number in "
                           "imports) -> messages.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}

# The generic meaning of each error code; operations refine it (:data:`.endpoints.DOMAIN_ERRORS`).
ERRORS = {
    400: "The request cannot be read: malformed JSON or a malformed header, or a write "
         "authenticated by the session cookie without a valid X-CSRFToken header.",
    401: "Not logged in: send a bearer token (POST /api/v1/auth/token) or the session cookie.",
    403: "Your role may not do this.",
    404: "No such object, or not one you may see (an id out of range reads the same).",
    409: "The request conflicts with the stored state.",
    412: "If-Match names an older version: someone changed the annotations meanwhile; reload.",
    413: "The request body is larger than the upload limit (ANNOTATOR_MAX_UPLOAD_MB).",
    414: "The URL is longer than ANNOTATOR_MAX_URL_LENGTH (4,096 characters by default).",
    415: "The body is not in a media type this operation reads.",
    422: "The request is well-formed but not valid; errors names each field.",
    428: "This write needs If-Match with the version it replaces.",
    429: "Too many failed logins; wait for Retry-After seconds.",
    503: "The database is unavailable; retry after Retry-After seconds. Nothing was changed.",
}
RETRY_AFTER = {"description": "Seconds to wait before retrying.", "required": True,
               "schema": {"type": "integer", "minimum": 0}}
WITH_HEADERS = {
    401: {"WWW-Authenticate": {"description": "The scheme to authenticate with (Bearer).",
                               "required": True, "schema": {"type": "string"}}},
    429: {"Retry-After": RETRY_AFTER},
    503: {"Retry-After": RETRY_AFTER},
}

IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "description": "The version this write was made against (the last ETag); a stale one is "
                   "412. Quotes and W/ are optional.",
    "schema": {"type": "string", "pattern": r'^(W/)?"?[0-9]{1,12}"?$'},
}
ETAG = {"description": "The annotation set's version after this answer, quoted.",
        "required": True, "schema": {"type": "string", "pattern": r'^"[0-9]+"$'}}
PAGINATION = {
    "description": "Pagination metadata, as JSON (total, total_pages, first_page, last_page, "
                   "page, previous_page, next_page).",
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PaginationMetadata"}}},
}


# Every text field of the schemas refuses NUL (annotator.schemas.String, 422 naming the field).
# A field without a pattern of its own says so with this one; lone surrogates need no pattern,
# since JSON text in UTF-8 cannot hold them.
NO_NUL = r"^[^\x00]*$"


def _text_pattern(converter, field, ret, **kwargs) -> dict:
    """Give a text field without a pattern, choices or a format the pattern :data:`NO_NUL`.

    An apispec attribute function: called for every marshmallow field the document shows. The
    field's length limits are repeated in the pattern, so that a generator of matching strings
    (schemathesis, say) makes them the right length at once instead of discarding most.
    """
    from annotator.schemas import String

    if not isinstance(field, String) or ret.get("type") != "string" or {"pattern", "enum", "format"} & set(ret):
        return {}
    low, high = ret.get("minLength"), ret.get("maxLength")
    if low is None and high is None:
        return {"pattern": NO_NUL}
    return {"pattern": f"^[^\\x00]{{{low or 0},{'' if high is None else high}}}$"}


def _error(code: int, meaning: str | tuple | None = None) -> dict | str:
    """Return the response of an error: the shared component, or one with its own meaning."""
    if meaning is None:
        return f"Error{code}"
    response = _error_component(code)
    if isinstance(meaning, tuple):
        meaning, headers = meaning
        response.pop("headers", None)
        if headers:
            response["headers"] = headers
    response["description"] = meaning
    return response


def _error_component(code: int) -> dict:
    response = {"description": ERRORS[code],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if code in WITH_HEADERS:
        response["headers"] = deepcopy(WITH_HEADERS[code])
    return response


def _role_names(roles) -> str:
    """Return ``roles`` for people: "admins", "admins and reviewers"."""
    names = [f"{role}s" for role in ROLES if role in roles]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


class HonestSpec(BasePlugin):
    """Completes each operation from its route and view as flask-smorest registers it."""

    def __init__(self, app, public_endpoints):
        self.app = app
        self.public = set(public_endpoints)
        self.operation_ids: dict[str, str] = {}

    def init_spec(self, spec):
        """Register the error schema and responses, the security schemes and the tags."""
        super().init_spec(spec)
        # flask-smorest registered its own "Error" already; every reference now means ours.
        spec.components.schemas["Error"] = deepcopy(ERROR_SCHEMA)
        for code in ERRORS:
            spec.components.response(f"Error{code}", _error_component(code))
        spec.components.header("Pagination", deepcopy(PAGINATION))
        spec.components.header("ETag", deepcopy(ETAG))
        spec.components.security_scheme(BEARER, {
            "type": "http", "scheme": "bearer",
            "description": "A token from POST /api/v1/auth/token, as Authorization: Bearer <token>.",
        })
        spec.components.security_scheme(COOKIE, {
            "type": "apiKey", "in": "cookie", "name": self.app.config["SESSION_COOKIE_NAME"],
            "description": "The browser's login session (the login page sets it).",
        })
        spec.components.security_scheme(CSRF, {
            "type": "apiKey", "in": "header", "name": "X-CSRFToken",
            "description": "With the session cookie, every write carries the page's CSRF token "
                           "(the csrf-token meta tag).",
        })
        spec.options.setdefault("info", {})["description"] = API_DESCRIPTION
        spec.options["tags"] = [{"name": name, "description": text} for name, text in TAGS.values()]

    def path_helper(self, path=None, operations=None, parameters=None, rule=None, **kwargs):
        """Describe the path's parameters."""
        for parameter in parameters or ():
            if parameter.get("in") == "path" and parameter["name"] in PATH_PARAMETERS:
                parameter.setdefault("description", PATH_PARAMETERS[parameter["name"]])
        return None

    def operation_helper(self, path=None, operations=None, rule=None, **kwargs):
        """Complete every operation of the route (see the module's docstring)."""
        endpoint = rule.endpoint
        blueprint, name = endpoint.split(".", 1)
        view = self.app.view_functions[endpoint]
        # The view's name is the operationId, so it must be unique across blueprints.
        if self.operation_ids.setdefault(name, endpoint) != endpoint:
            raise ValueError(f"Two API views are named {name}: {self.operation_ids[name]}, {endpoint}")
        if blueprint not in TAGS:
            raise ValueError(f"Give the blueprint {blueprint} a tag in annotator.api.openapi.endpoints.TAGS")
        for method, operation in operations.items():
            operation["operationId"] = name if len(operations) == 1 else f"{name}_{method}"
            operation["tags"] = [TAGS[blueprint][0]]
            self._describe(operation, endpoint, view)
            if endpoint in NON_EMPTY_BODIES:
                body = operation["requestBody"]["content"]["application/json"]
                body["schema"] = {"allOf": [body["schema"]], "minProperties": 1}
            self._secure(operation, endpoint, method)
            self._answer(operation, endpoint, blueprint, method, rule, view)
            self._parameters(operation, endpoint, blueprint, method)
            self._link(operation, endpoint)

    def _describe(self, operation, endpoint, view):
        text = operation.get("description") or operation.get("summary") or ""
        roles = getattr(view, "required_roles", None)
        if endpoint in self.public:
            access = "No login needed."
        elif roles and set(roles) != set(ROLES):
            access = f"Only {_role_names(roles)} may call it."
        else:
            access = "For every logged-in user."
        operation["description"] = f"{text}\n\n{access}".strip()

    def _secure(self, operation, endpoint, method):
        if endpoint in self.public:
            operation["security"] = []
        elif method in SAFE_METHODS:
            operation["security"] = [{BEARER: []}, {COOKIE: []}]
        else:
            operation["security"] = [{BEARER: []}, {COOKIE: [], CSRF: []}]

    def _answer(self, operation, endpoint, blueprint, method, rule, view):
        responses = {str(code): response for code, response in operation.get("responses", {}).items()
                     if code != "default"}
        operation["responses"] = responses
        # Any request: a URL past the limit, a database that does not answer.
        codes: dict[int, str | tuple | None] = {414: None, 503: None}
        roles = getattr(view, "required_roles", None)
        body = "requestBody" in operation
        if endpoint not in self.public:
            codes[401] = None
            if roles and set(roles) != set(ROLES):
                codes[403] = f"Only {_role_names(roles)} may call it."
        if rule.arguments:
            codes[404] = None
        # Unsafe methods: the CSRF check of cookie writes, and a malformed If-Match.
        if body or (method not in SAFE_METHODS and endpoint not in self.public):
            codes[400] = None
        if body:
            codes.update({413: None, 415: None, 422: None})
        if "422" in responses or any(p.get("in") == "query" for p in operation.get("parameters", [])):
            codes[422] = None
        if blueprint in VERSIONED and method not in SAFE_METHODS:
            codes[412] = None
        if endpoint in IF_MATCH_REQUIRED:
            codes[428] = None
        codes.update(DOMAIN_ERRORS.get(endpoint, {}))
        for code in sorted(codes):
            responses[str(code)] = _error(code, codes[code])
        for code, (description, like) in ALTERNATIVE_SUCCESS.get(endpoint, {}).items():
            alternative = deepcopy(responses[str(like)])
            alternative["description"] = description
            responses[str(code)] = alternative
        if endpoint in MEDIA_TYPES and not any(code.startswith("2") for code in responses):
            responses["200"] = {"description": "OK"}
        for code, response in responses.items():
            if not (isinstance(response, dict) and code.startswith("2")):
                continue
            if endpoint in MEDIA_TYPES:
                response["content"] = {media: {"schema": schema}
                                       for media, schema in MEDIA_TYPES[endpoint].items()}
            headers = response.get("headers", {})
            if "X-Pagination" in headers:
                headers["X-Pagination"] = "Pagination"
            if blueprint in VERSIONED and code != "204":
                headers["ETag"] = "ETag"
            if headers:
                response["headers"] = headers

    def _parameters(self, operation, endpoint, blueprint, method):
        parameters = operation.setdefault("parameters", [])
        for parameter in parameters:
            if isinstance(parameter, dict) and not parameter.get("description"):
                key = parameter["name"]
                description = QUERY_PARAMETERS.get((endpoint, key), QUERY_PARAMETERS.get(key))
                if description:  # else tests/test_openapi.py names the parameter
                    parameter["description"] = description
        if blueprint in VERSIONED and method not in SAFE_METHODS:
            header = deepcopy(IF_MATCH)
            header["required"] = endpoint in IF_MATCH_REQUIRED
            parameters.append(header)
        if not parameters:
            operation.pop("parameters")

    def _link(self, operation, endpoint):
        links = LINKS.get(endpoint)
        if not links:
            return
        for code, response in operation["responses"].items():
            if code.startswith("2") and isinstance(response, dict) and "content" in response:
                response["links"] = {
                    target.split(".", 1)[1]: {"operationId": target.split(".", 1)[1],
                                              "parameters": dict(values)}
                    for target, values in links
                }


def install(app, api, public_endpoints):
    """Complete the document of ``api`` with :class:`HonestSpec` for the blueprints to come.

    Call it before registering the blueprints.
    """
    plugin = HonestSpec(app, public_endpoints)
    plugin.init_spec(api.spec)
    api.spec.plugins.append(plugin)
    # The converter is the Api's for this app (a new one per spec), so this is added once each.
    api.ma_plugin.converter.add_attribute_function(_text_pattern)
    return plugin
