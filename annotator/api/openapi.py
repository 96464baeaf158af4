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
  the path, 400/413/415/422 for a body, 414 and 503 everywhere) plus :data:`DOMAIN_ERRORS`, what only
  the services know (409, 412, 428, 429...). There is no ``default`` response: a code the
  document does not list is a bug the fuzzer reports (tests/test_fuzz_api.py);
- the other answers of :data:`ALTERNATIVE_SUCCESS` (a create's replay, a dry run);
- ``If-Match`` and ``ETag`` on the versioned annotation writes, ``X-Pagination`` as the JSON it
  is, ``Retry-After`` on 429 and 503;
- the text rule, as a pattern on every text field that has none of its own (:data:`NO_NUL`);
- :data:`LINKS` between operations, for clients and the fuzzer's stateful phase.
"""

from copy import deepcopy

from apispec import BasePlugin

from annotator.models import ROLES

BEARER = "bearerAuth"
COOKIE = "sessionCookie"
CSRF = "csrfToken"
SAFE_METHODS = {"get", "head", "options"}

# Blueprint name -> the tag people read, in the order the document lists them.
TAGS = {
    "auth_api": ("Authentication", "Bearer tokens and who is asking."),
    "users_api": ("Users", "Accounts, for admins (there is no self-registration)."),
    "projects_api": ("Projects", "Projects, their members and their progress."),
    "documents_api": ("Documents", "Import, list and read documents."),
    "assignments_api": ("Assignments", "Who annotates what: assignments, my queue, my next document."),
    "annotations_api": ("Annotations", "One annotator's spans, relations and status on a document, "
                        "versioned (ETag / If-Match)."),
    "export_api": ("Export", "Annotations as training data (admins)."),
}

# Bodies that must name at least one field (an empty one is 422), which a marshmallow schema
# of optional fields cannot say.
NON_EMPTY_BODIES = {"users_api.update_user"}

API_DESCRIPTION = """The JSON API of Conflict Annotator.

Authenticate with a bearer token (POST /api/v1/auth/token) or, from the browser, the session
cookie; cookie writes carry the page's CSRF token as X-CSRFToken. Every error has one shape
(the Error schema). Text fields never hold the NUL character or a lone surrogate (422 naming
the field). Offsets are code points, end-exclusive. Annotation writes are versioned: send the
last ETag as If-Match, and a stale one is 412."""

# Blueprints whose writes take If-Match and whose answers carry the version as ETag.
VERSIONED = {"annotations_api"}
# Writes that refuse to run without If-Match (428).
IF_MATCH_REQUIRED = {"annotations_api.replace_annotations"}

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

# The generic meaning of each error code; operations refine it (:data:`DOMAIN_ERRORS`).
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

# What only the services know, by endpoint: code -> when it is answered (or a pair of that and
# the response's headers, where they differ from the code's usual ones).
DOMAIN_ERRORS = {
    "auth_api.create_token": {
        # The login itself is not a challenge to authenticate otherwise: no WWW-Authenticate.
        401: ("Wrong username or password (or the account is deactivated).", {}),
        429: "Too many failed logins for this account, or from this address; see Retry-After.",
    },
    "users_api.create_user": {409: "The username is taken (case does not matter)."},
    "users_api.update_user": {
        404: "No user has this name.",
        409: "You cannot deactivate or demote yourself, nor the last active admin.",
        422: "Nothing to change (an empty body), an unknown role or a weak password.",
    },
    "users_api.unlock_user": {404: "No user has this name."},
    "projects_api.create_project": {409: "A project with this name exists."},
    "projects_api.update_project": {
        409: "The name is taken, or the new schema would orphan stored annotations (each "
             "orphan is listed under errors.schema).",
    },
    "projects_api.add_members": {422: "Some usernames do not exist (listed under errors.usernames)."},
    "projects_api.remove_member": {404: "No such project, or the user is not a member of it."},
    "assignments_api.assign_documents": {
        422: "An annotator is unknown, inactive or not a member; a document is not in the "
             "project; or there are fewer annotators than per_document.",
    },
    "assignments_api.reassign": {
        422: "The new annotator is unknown, inactive, not a member or already assigned.",
    },
    "assignments_api.next_document": {
        403: "Dynamic assignment: only the project's members take documents from it.",
    },
    "annotations_api.get_annotations": {
        404: "No such document for you, or the annotator has no work on it.",
    },
    "annotations_api.replace_annotations": {
        409: "The document is submitted or skipped: reopen it (status in_progress) first.",
        422: "A span or relation is not valid (errors keyed spans.3.end, relations.0.label).",
    },
    "annotations_api.create_span": {
        409: "The id belongs to a different span, or the document is submitted or skipped.",
        422: "The offsets are past the text or inside a character, the label or an attribute "
             "is not in the project's schema, the text does not match, or the span breaks the "
             "overlap policy.",
    },
    "annotations_api.update_span": {
        404: "No such document for you, or no such span in your annotations.",
        409: "The document is submitted or skipped: reopen it first.",
        422: "As for creating a span, or the new label breaks one of the span's relations.",
    },
    "annotations_api.delete_span": {
        404: "No such document for you, or no such span in your annotations.",
        409: "The document is submitted or skipped: reopen it first.",
    },
    "annotations_api.create_relation": {
        409: "The id belongs to a different relation, the same relation exists, or the "
             "document is submitted or skipped.",
        422: "An end is not one of your spans, or the schema allows no such relation between "
             "their labels.",
    },
    "annotations_api.delete_relation": {
        404: "No such document for you, or no such relation in your annotations.",
        409: "The document is submitted or skipped: reopen it first.",
    },
    "annotations_api.set_status": {
        409: "The workflow does not allow this move (submitted -> skipped, say).",
        422: "Submitting, some spans miss required attributes.",
    },
    "documents_api.import_documents": {
        413: "The upload is larger than ANNOTATOR_MAX_UPLOAD_MB.",
        415: "Send JSON (application/json) or a file (multipart/form-data).",
        422: "A record is not valid: errors keyed by line (record number in JSON lists); or "
             "as_user is not a member of the project.",
    },
    "export_api.export_project": {422: "A filter is not valid or names something the project has not."},
    "export_api.export_summary": {422: "A filter is not valid or names something the project has not."},
}

# Success answers besides the decorated one: endpoint -> code -> (description, like), where
# ``like`` is the code whose content and headers the answer shares.
ALTERNATIVE_SUCCESS = {
    "annotations_api.create_span": {
        200: ("A replay: a span with this id and the same body is stored; it is answered "
              "unchanged, without a new version.", 201),
    },
    "annotations_api.create_relation": {
        200: ("A replay: a relation with this id and the same body is stored; it is answered "
              "unchanged, without a new version.", 201),
    },
    "assignments_api.assign_documents": {
        200: ("dry_run: the plan (planned, short, loads); nothing is stored.", 201),
    },
}

# Response bodies that are not JSON: endpoint -> media type -> schema.
MEDIA_TYPES = {
    "export_api.export_project": {
        "application/x-ndjson": {"type": "string", "description": "format=jsonl: one JSON record "
                                 "per document and annotator (docs/export.md)."},
        "text/plain": {"type": "string", "description": "format=conll without a split."},
        "application/zip": {"type": "string", "format": "binary", "description":
                            "format=spacy (DocBin shards), or conll with a split."},
    },
    "projects_api.get_progress_csv": {
        "text/csv": {"type": "string", "description": "One row per annotator."},
    },
}

PATH_PARAMETERS = {
    "pid": "The project's id.",
    "did": "The document's id.",
    "aid": "The assignment's id.",
    "sid": "The span's id (the client's, as given when it was created).",
    "rid": "The relation's id (the client's, as given when it was created).",
    "username": "The user's name.",
}
# Query parameters without a description of their own (field metadata), by name; an
# (endpoint, name) entry wins where the same name means something else.
QUERY_PARAMETERS = {
    "page": "The page to return, from 1.",
    "page_size": "How many items a page holds.",
    "annotator": "Only this annotator's (a username).",
    "project": "Only this project's (an id).",
    "document": "Only this document's (an id).",
    ("documents_api.list_documents", "status"): "Only documents with an assignment in this "
    "status, or with none (unassigned).",
    ("documents_api.list_documents", "annotator"): "Only documents assigned to this annotator.",
    ("documents_api.list_documents", "q"): "Only documents whose text or external id contains this.",
    ("assignments_api.list_assignments", "status"): "Only assignments in this status.",
    ("assignments_api.my_assignments", "status"): "Only my assignments in this status.",
    ("annotations_api.get_annotations", "annotator"): "Whose annotations (reviewers and admins); "
    "by default mine.",
    ("export_api.export_project", "format"): "jsonl (default), conll or spacy.",
    ("export_api.export_summary", "format"): "The format the export would have (jsonl, conll, spacy).",
    "status": "Only records whose assignment is in these statuses (repeated or comma-separated; "
              "default submitted).",
    ("export_api.export_project", "annotator"): "Only these annotators (repeated or comma-separated).",
    ("export_api.export_summary", "annotator"): "Only these annotators (repeated or comma-separated).",
    ("export_api.export_project", "document"): "Only these document ids (repeated or comma-separated).",
    ("export_api.export_summary", "document"): "Only these document ids (repeated or comma-separated).",
    "updated_since": "Only records changed at or after this moment (ISO 8601; UTC when no zone "
                     "is given).",
    "split": "train,dev,test percentages, e.g. 80,10,10: each document goes to one part.",
    "seed": "The seed of the split (the same seed gives the same parts).",
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

# Links between operations: source endpoint -> [(target endpoint, {parameter: expression})].
# The source's first success answer carries them.
_PID = {"pid": "$response.body#/id"}
_DID = {"did": "$response.body#/id"}
LINKS = {
    "projects_api.create_project": [
        (target, _PID) for target in (
            "projects_api.get_project", "projects_api.update_project", "projects_api.add_members",
            "projects_api.list_members", "documents_api.import_documents",
            "documents_api.list_documents", "assignments_api.assign_documents",
            "assignments_api.list_assignments", "projects_api.get_progress",
            "export_api.export_summary")],
    "projects_api.list_projects": [
        (target, {"pid": "$response.body#/0/id"}) for target in (
            "projects_api.get_project", "assignments_api.next_document",
            "documents_api.list_documents", "projects_api.list_members")],
    "documents_api.import_documents": [
        (target, {"did": "$response.body#/document_ids/0"}) for target in (
            "documents_api.get_document", "annotations_api.get_annotations")],
    "documents_api.list_documents": [
        (target, {"did": "$response.body#/0/id"}) for target in (
            "documents_api.get_document", "annotations_api.get_annotations")],
    "assignments_api.next_document": [
        (target, _DID) for target in (
            "documents_api.get_document", "annotations_api.get_annotations",
            "annotations_api.create_span", "annotations_api.set_status")],
    "assignments_api.my_assignments": [
        (target, {"did": "$response.body#/0/document_id"}) for target in (
            "documents_api.get_document", "annotations_api.get_annotations",
            "annotations_api.create_span", "annotations_api.create_relation",
            "annotations_api.set_status")],
    "assignments_api.list_assignments": [
        ("assignments_api.reassign", {"aid": "$response.body#/0/id"}),
        ("assignments_api.delete_assignment", {"aid": "$response.body#/0/id"}),
    ],
    "assignments_api.assign_documents": [
        ("assignments_api.reassign", {"aid": "$response.body#/assignments/0/id"}),
        ("assignments_api.delete_assignment", {"aid": "$response.body#/assignments/0/id"}),
    ],
    "annotations_api.create_span": [
        (target, {"did": "$request.path.did", "sid": "$response.body#/id"}) for target in (
            "annotations_api.update_span", "annotations_api.delete_span")],
    "annotations_api.create_relation": [
        ("annotations_api.delete_relation", {"did": "$request.path.did", "rid": "$response.body#/id"}),
    ],
    "users_api.create_user": [
        (target, {"username": "$response.body#/username"}) for target in (
            "users_api.update_user", "users_api.unlock_user")],
    "users_api.list_users": [
        ("users_api.update_user", {"username": "$response.body#/0/username"}),
    ],
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
            raise ValueError(f"Give the blueprint {blueprint} a tag in annotator.api.openapi.TAGS")
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
