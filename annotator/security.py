"""Who is asking, and what every response must carry.

- Identity: a bearer token (``Authorization: Bearer ...``) or the login-session key in the
  signed session cookie, looked up in the database on every request, so logout, deactivation
  and password changes take effect at once on every worker.
- Login is required everywhere except :data:`PUBLIC_ENDPOINTS`: anonymous page requests are
  sent to the login page, anonymous API requests get 401.
- CSRF: every unsafe request authenticated by the cookie must carry the token (form field
  ``csrf_token`` or header ``X-CSRFToken``); bearer-token requests carry no cookie and are exempt.
- Roles: :func:`require_role` on a view answers 403 to other roles.
- Headers: an enforced CSP without inline script, nosniff, frame-ancestors 'none', a referrer
  policy, and ``no-store`` on everything but static files.
- URLs: one longer than ``MAX_URL_LENGTH`` is 414 before anything else looks at it.
"""

from functools import wraps
from urllib.parse import urlsplit

from flask import current_app
from flask import g
from flask import redirect
from flask import request
from flask import session
from flask import url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import generate_csrf

from annotator.errors import Forbidden
from annotator.errors import UriTooLong
from annotator.errors import error_response
from annotator.extensions import csrf
from annotator.extensions import login_manager
from annotator.services import users

# Endpoints anyone may call. Everything else needs a login: tests/test_access.py walks the URL
# map and fails when a new endpoint answers an anonymous request.
PUBLIC_ENDPOINTS = {"static", "auth.login", "auth_api.create_token", "health.healthz",
                    "api-docs.openapi_json"}
# Writes that need no CSRF token: the token endpoint authenticates by its body, not a cookie.
CSRF_EXEMPT_ENDPOINTS = {"auth_api.create_token"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
])


def bearer_token() -> str | None:
    """Return the bearer token of this request, or None when it has none."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer":
        return token.strip()
    return None


@login_manager.request_loader
def load_user_from_request(req):
    """Identify the user by bearer token, else by the login-session key in the cookie."""
    if req.headers.get("Authorization"):
        # A request that names a token is judged by it alone; the cookie is not consulted.
        g.auth_method = "token"
        return users.user_for_token(bearer_token())
    g.auth_method = "session"
    return users.user_for_session(session.get("sid"))


def require_role(*roles):
    """Let only users with one of ``roles`` call the view; others get 403.

    :raise Forbidden: when the current user's role is not in ``roles``.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                raise Forbidden("You do not have permission to do that.")
            return view(*args, **kwargs)

        wrapped.required_roles = roles
        return wrapped

    return decorator


def is_safe_next(target: str | None) -> bool:
    """Return whether ``target`` is a path on this site (never another host or a scheme)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(c) < 32 for c in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def refuse_long_urls():
    """Refuse a request whose URL (path and query string, as sent) is longer than MAX_URL_LENGTH.

    gunicorn refuses longer request lines itself, with an HTML page; its limit is set well
    above this one (``gunicorn_settings``), so every URL that is too long and reaches the app is
    answered in the project's error payload, JSON under /api.

    :raise UriTooLong: naming the limit.
    """
    limit = current_app.config["MAX_URL_LENGTH"]
    # RAW_URI is the request target as sent, percent-escapes included (gunicorn and Werkzeug).
    url = request.environ.get("RAW_URI") or request.full_path
    if len(url) > limit:
        raise UriTooLong(f"The URL is longer than the limit of {limit:,} characters; "
                         "send fewer or shorter query parameters.")


def gate():
    """Require a login for every non-public endpoint and a CSRF token on cookie writes."""
    endpoint = request.endpoint
    if endpoint is None or endpoint in PUBLIC_ENDPOINTS:
        if endpoint and request.method not in SAFE_METHODS and endpoint not in CSRF_EXEMPT_ENDPOINTS:
            csrf.protect()
        return None
    if not current_user.is_authenticated:
        if request.path.startswith("/api/"):
            return error_response(401, "Log in or send a valid bearer token.",
                                  headers={"WWW-Authenticate": 'Bearer realm="annotator"'})
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("auth.login", next=target))
    if request.method not in SAFE_METHODS and g.get("auth_method") != "token":
        csrf.protect()
    return None


def set_security_headers(response):
    """Add the security headers every response carries (docs/security.md 6 D23)."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.endpoint != "static":
        headers.setdefault("Cache-Control", "no-store")
    return response


def inject_csrf():
    return {"csrf_token": generate_csrf}


def init_app(app):
    """Register the request gate, response headers and template helpers."""
    login_manager.session_protection = None  # sessions are checked against the database
    app.before_request(refuse_long_urls)
    app.before_request(gate)
    app.after_request(set_security_headers)
    app.context_processor(inject_csrf)
    # CSRF failures read "The CSRF token is missing." rather than a generic 400.
    app.register_error_handler(
        CSRFError, lambda e: error_response(400, e.description or "CSRF token missing.")
    )
