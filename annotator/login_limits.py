"""Failed-login limits: per account and per client address, shared by every worker and host.

Only failures count (a 401 from the login page or the token endpoint). The counters live in
the limiter's storage (Redis across workers and hosts, ``ANNOTATOR_RATELIMIT_STORAGE_URI``),
under keys that carry the deployment's prefix (``ANNOTATOR_RATELIMIT_PREFIX``), so two
deployments sharing one Redis never share counters. :func:`clear_login_failures` is what an
admin's unlock does.
"""

from flask import current_app
from flask import request
from limits import parse_many

from annotator.extensions import limiter


def login_limit() -> str:
    """Return the failed logins allowed per account (``ANNOTATOR_LOGIN_LIMIT``)."""
    return current_app.config["LOGIN_LIMIT"]


def login_address_limit() -> str:
    """Return the failed logins allowed per client address (``ANNOTATOR_LOGIN_ADDRESS_LIMIT``)."""
    return current_app.config["LOGIN_ADDRESS_LIMIT"]


# The deployment's prefix is part of each key rather than Flask-Limiter's RATELIMIT_KEY_PREFIX:
# the limiter object is shared by every app of the process and keeps the first app's prefix.
def _prefixed(key: str) -> str:
    return f"{current_app.config['RATELIMIT_PREFIX']}:{key}"


def account_key(username) -> str:
    """Return the per-account limit key of ``username`` (case and spaces do not matter)."""
    return _prefixed("account:" + str(username or "").strip().lower()[:64])


def _account_key() -> str:
    name = request.form.get("username")
    if name is None:
        body = request.get_json(silent=True)
        name = body.get("username") if isinstance(body, dict) else None
    return account_key(name)


def _address_key() -> str:
    return _prefixed("address:" + (request.remote_addr or "unknown"))


def _failed(response) -> bool:
    return response.status_code == 401


ACCOUNT_SCOPE = "login-account"

# Failed logins only, shared by the login page and the token endpoint, counted in the configured
# storage (Redis across workers and hosts). Per account: guessing one password stops after
# LOGIN_LIMIT. Per address, a higher LOGIN_ADDRESS_LIMIT: spraying many accounts from one
# address stops too, while one person's typos never lock out colleagues behind the same NAT.
limit_logins = [
    limiter.shared_limit(login_limit, scope=ACCOUNT_SCOPE, key_func=_account_key,
                         deduct_when=_failed, methods=["POST"]),
    limiter.shared_limit(login_address_limit, scope="login-address", key_func=_address_key,
                         deduct_when=_failed, methods=["POST"]),
]


def rate_limited(view):
    """Apply the failed-login limits to ``view``."""
    for limit in limit_logins:
        view = limit(view)
    return view


def clear_login_failures(username: str) -> None:
    """Forget the failed logins counted against ``username``'s account, in every window.

    The per-address counters stay: they count many accounts and expire on their own.
    """
    key = account_key(username)
    for item in parse_many(login_limit()):
        limiter.limiter.clear(item, key, ACCOUNT_SCOPE)
