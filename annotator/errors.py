"""Domain exceptions and the one error handler.

Services raise the exceptions below and never build responses. :func:`register_error_handlers`
maps them, and every HTTP error, to one payload. Under ``/api`` it is JSON::

    {"code": 422, "status": "Unprocessable Entity", "message": "...", "errors": {"end": ["..."]}}

- ``code``: the HTTP status code; ``status``: its reason phrase;
- ``message``: one sentence for people, never a stack trace, SQL or echoed markup;
- ``errors`` (optional): field name -> list of messages. Request-body validation errors are
  keyed by field directly (not by webargs location); import errors are keyed by line number.

Pages get ``templates/errors/error.html`` with the same code and message.
"""

import logging
import math
import time

from flask import current_app
from flask import jsonify
from flask import render_template
from flask import request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from annotator.extensions import db
from annotator.extensions import limiter

log = logging.getLogger(__name__)


class AnnotatorError(Exception):
    """A domain error with an HTTP status, a message and optional field errors."""

    code = 400

    def __init__(self, message: str, errors: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.headers = headers or {}


class NotFound(AnnotatorError):
    code = 404


class Forbidden(AnnotatorError):
    code = 403


class Conflict(AnnotatorError):
    code = 409


class PreconditionFailed(AnnotatorError):
    code = 412


class PreconditionRequired(AnnotatorError):
    """The write needs an ``If-Match`` header (RFC 6585: 428)."""

    code = 428


class Invalid(AnnotatorError):
    """The request is well-formed but breaks a rule (offsets, schema, state)."""

    code = 422


class TooLarge(AnnotatorError):
    code = 413


class UriTooLong(AnnotatorError):
    code = 414


class UnsupportedMediaType(AnnotatorError):
    """The body is not in a format the endpoint takes (JSON sent as text/plain, say)."""

    code = 415


def wants_json() -> bool:
    """Return whether this request is answered in JSON (the API) rather than HTML (pages)."""
    return request.path.startswith("/api/") or request.path == "/healthz"


def flat_errors(errors, root: str = "_schema") -> dict[str, list[str]]:
    """Return field errors as one level of ``dotted.path -> [messages]``.

    marshmallow nests the errors of lists and nested schemas (``{"spans": {"0": {"end": [..]}}}``);
    the contract is one level, keyed as docs/admin.md documents (``spans.0.end``). Errors of a
    nested object as a whole (marshmallow's ``_schema``) belong to the object's own key, and
    those of the whole body to ``root``.
    """
    flat: dict[str, list[str]] = {}

    def walk(value, path):
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, path if key == "_schema" else f"{path}.{key}" if path else str(key))
        elif isinstance(value, list | tuple) and any(isinstance(v, dict | list) for v in value):
            for inner in value:
                walk(inner, path)
        else:
            messages = value if isinstance(value, list | tuple) else [value]
            flat.setdefault(path or root, []).extend(str(m) for m in messages)

    walk(errors, "")
    return flat


def error_response(code: int, message: str, errors=None, headers=None):
    """Build the error response for the current request: JSON under /api, a page elsewhere."""
    status = HTTP_STATUS_CODES.get(code, "Error")
    errors = flat_errors(errors) if errors else None
    if wants_json():
        payload = {"code": code, "status": status, "message": message}
        if errors:
            payload["errors"] = errors
        response = jsonify(payload)
    else:
        response = current_app.make_response(
            render_template("errors/error.html", code=code, status=status, message=message,
                            errors=errors)
        )
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten_webargs(errors):
    """Key webargs errors by field: ``{"json": {"end": [..]}}`` becomes ``{"end": [..]}``.

    Errors of the location itself (``{"json": ["Invalid JSON body."]}``) stay keyed by it:
    ``errors`` is always an object.
    """
    if isinstance(errors, dict) and len(errors) == 1:
        (location, inner), = errors.items()
        if location in {"json", "query", "form", "files", "headers", "json_or_form"} and isinstance(inner, dict):
            return inner
    return errors


MESSAGES = {
    400: "The request could not be understood.",
    401: "Log in to continue.",
    403: "You do not have permission to do that.",
    404: "Not found.",
    405: "This method is not allowed here.",
    409: "The request conflicts with the current state.",
    413: "The request is too large.",
    414: "The URL is too long.",
    415: "The body is not in a format this endpoint takes.",
    422: "The request is not valid.",
    429: "Too many attempts. Try again later.",
}


def retry_after_seconds() -> int:
    """Return how long the limit breached by this request lasts, in whole seconds (at least 1)."""
    breached = limiter.current_limit
    if breached is None:
        return 60
    return max(1, math.ceil(breached.reset_at - time.time()))


def wait_message(seconds: int) -> str:
    """Return the sentence telling how long to wait, in whole minutes (rounded up)."""
    minutes = max(1, -(-seconds // 60))
    return f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}."


def handle_http_exception(error: HTTPException):
    """Answer an HTTP error in the project's payload, keeping its headers (Retry-After...)."""
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    message = data.get("message") or MESSAGES.get(code) or HTTP_STATUS_CODES.get(code, "Error")
    if code == 413 and not data.get("message"):
        limit = current_app.config.get("MAX_UPLOAD_MB")
        message = f"The request is larger than the limit of {limit} MiB."
    # webargs puts request validation errors under "messages", keyed by location.
    errors = _flatten_webargs(data.get("errors") or data.get("messages"))
    headers = dict(data.get("headers") or {})
    if code == 429:
        retry_after = getattr(error, "retry_after", None)
        response = error.get_response()
        for name in ("Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                     "X-RateLimit-Reset"):
            if name in response.headers:
                headers[name] = response.headers[name]
        if "Retry-After" not in headers:
            headers["Retry-After"] = str(retry_after or retry_after_seconds())
        if str(headers["Retry-After"]).isdecimal():
            message = wait_message(int(headers["Retry-After"]))
    if code == 405 and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return error_response(code, message, errors, headers)


def handle_domain_error(error: AnnotatorError):
    db.session.rollback()
    return error_response(error.code, error.message, error.errors, error.headers)


def handle_integrity_error(error: IntegrityError):
    # A constraint caught what the services did not: a concurrent duplicate, usually.
    db.session.rollback()
    log.warning("integrity error: %s", error.orig)
    return error_response(409, "The change conflicts with data stored meanwhile; reload and retry.")


def handle_operational_error(error: OperationalError):
    # The database is unreachable, locked for too long or timed out: fail fast with 503.
    db.session.rollback()
    log.error("database unavailable: %s", error.orig)
    return error_response(503, "The database is unavailable; try again in a moment.",
                          headers={"Retry-After": "2"})


def handle_recursion_error(error: RecursionError):
    # json.loads on a body nested thousands deep (docs/security.md 6 E28): the client's fault.
    db.session.rollback()
    message = "The JSON is nested too deeply."
    return error_response(400, message, {"json": [message]})


def handle_unexpected_error(error: Exception):
    db.session.rollback()
    log.exception("unhandled error")
    return error_response(500, "Something went wrong on our side; nothing was changed.")


def register_error_handlers(app):
    """Map domain exceptions and HTTP errors to the one payload described above."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(AnnotatorError, handle_domain_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(OperationalError, handle_operational_error)
    app.register_error_handler(RecursionError, handle_recursion_error)
    app.register_error_handler(Exception, handle_unexpected_error)


def form_errors(error: AnnotatorError) -> dict:
    """Return a domain error as a page's form shows it: ``{"message": ..., "fields": {name: [..]}}``."""
    return {"message": error.message, "fields": error.errors or {}}


def error_sentence(error: AnnotatorError) -> str:
    """Return a domain error as one line for a flash message: the message, then each field's messages."""
    return " ".join([error.message, *(m for ms in (error.errors or {}).values() for m in ms)])
