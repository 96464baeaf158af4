"""Configuration: the one place that reads the environment.

Every setting comes from an ``ANNOTATOR_*`` variable; :func:`from_env` turns them into a Flask
config mapping. Tests pass their own mapping to ``create_app`` instead.
"""

import hashlib
import os
from pathlib import Path

# Settings that have a safe default. Anything here can be overridden by ANNOTATOR_<NAME>.
DEFAULTS = {
    "LOGIN_LIMIT": "10 per 15 minutes",
    "LOGIN_ADDRESS_LIMIT": "100 per 15 minutes",
    "RATELIMIT_STORAGE_URI": "memory://",
    "MAX_UPLOAD_MB": 64,
    "MAX_DOCUMENT_CHARS": 1_000_000,
    "MAX_URL_LENGTH": 4096,
    "SECURE_COOKIES": False,
    "DB_STATEMENT_TIMEOUT_MS": 20_000,
}


class InsecureConfig(RuntimeError):
    """The configuration is missing something the service must not run without."""


def _env(name, default=None):
    return os.environ.get(f"ANNOTATOR_{name}", default)


def _bool(value) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def read_secret_key(instance_path: str) -> str | None:
    """Return the secret key from ANNOTATOR_SECRET_KEY or from ``instance/secret_key``."""
    key = _env("SECRET_KEY")
    if key:
        return key
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip() or None
    return None


def from_env(instance_path: str) -> dict:
    """Build the Flask config mapping from the ``ANNOTATOR_*`` environment variables."""
    database_url = _env("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'annotator.db'}"
    database_url = normalize_database_url(database_url)
    return {
        "SECRET_KEY": read_secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "LOGIN_LIMIT": _env("LOGIN_LIMIT", DEFAULTS["LOGIN_LIMIT"]),
        "LOGIN_ADDRESS_LIMIT": _env("LOGIN_ADDRESS_LIMIT", DEFAULTS["LOGIN_ADDRESS_LIMIT"]),
        "RATELIMIT_PREFIX": _env("RATELIMIT_PREFIX"),
        "RATELIMIT_STORAGE_URI": _env("RATELIMIT_STORAGE_URI", DEFAULTS["RATELIMIT_STORAGE_URI"]),
        "MAX_UPLOAD_MB": int(_env("MAX_UPLOAD_MB", DEFAULTS["MAX_UPLOAD_MB"])),
        "MAX_DOCUMENT_CHARS": int(_env("MAX_DOCUMENT_CHARS", DEFAULTS["MAX_DOCUMENT_CHARS"])),
        "MAX_URL_LENGTH": int(_env("MAX_URL_LENGTH", DEFAULTS["MAX_URL_LENGTH"])),
        "SECURE_COOKIES": _bool(_env("SECURE_COOKIES", DEFAULTS["SECURE_COOKIES"])),
        "DB_STATEMENT_TIMEOUT_MS": int(
            _env("DB_STATEMENT_TIMEOUT_MS", DEFAULTS["DB_STATEMENT_TIMEOUT_MS"])
        ),
        "TRUSTED_PROXIES": int(_env("TRUSTED_PROXIES", 0)),
    }


def finalize(config: dict) -> dict:
    """Fill in the settings derived from the others and refuse an unsafe configuration.

    :raise InsecureConfig: when there is no secret key or it is too short to be random.
    """
    key = config.get("SECRET_KEY")
    if not key or len(key) < 32:
        raise InsecureConfig(
            "No strong secret key: set ANNOTATOR_SECRET_KEY (32+ random characters) "
            "or create instance/secret_key (`make run` does)."
        )
    for name, value in DEFAULTS.items():
        config.setdefault(name, value)
    if not config.get("RATELIMIT_PREFIX"):
        config["RATELIMIT_PREFIX"] = ratelimit_prefix(key)
    secure = bool(config["SECURE_COOKIES"])
    config.update(
        MAX_CONTENT_LENGTH=int(config["MAX_UPLOAD_MB"]) * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_NAME="annotator_session",
        REMEMBER_COOKIE_SECURE=secure,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the login session
        WTF_CSRF_SSL_STRICT=secure,
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(config["SQLALCHEMY_DATABASE_URI"], config),
        API_TITLE="Conflict Annotator",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    # CSRF is checked by annotator.security for every cookie-authenticated write, pages and API
    # alike; Flask-WTF's own blanket check would also refuse bearer-token API calls.
    config["WTF_CSRF_CHECK_DEFAULT"] = False
    return config


def ratelimit_prefix(secret_key: str) -> str:
    """Return the default prefix of the rate-limit keys, derived from the secret key.

    Two deployments sharing one Redis have different keys, so they never share counters; the
    hosts of one deployment share the key, so they share them. The digest reveals nothing of
    the key.
    """
    return "annotator-" + hashlib.sha256(secret_key.encode()).hexdigest()[:12]


def normalize_database_url(url: str) -> str:
    """Point ``postgresql://`` URLs at psycopg 3, the driver this project installs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def engine_options(url: str, config: dict) -> dict:
    """Return SQLAlchemy engine options suited to the database in ``url``."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    options = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 10, "pool_recycle": 1800}
    if url.startswith("postgresql"):
        # Statements give up before gunicorn's timeout would kill the worker (docs/security.md 5.4),
        # and a dead server is noticed within seconds, not minutes.
        timeout = int(config.get("DB_STATEMENT_TIMEOUT_MS", DEFAULTS["DB_STATEMENT_TIMEOUT_MS"]))
        options["connect_args"] = {
            "connect_timeout": 5,
            "options": f"-c statement_timeout={timeout} -c lock_timeout={timeout}",
        }
    return options


def instance_dir() -> str:
    """Return the instance folder: ANNOTATOR_INSTANCE_PATH or ``./instance``."""
    return os.path.abspath(_env("INSTANCE_PATH", "instance"))


def project_root() -> Path:
    """Return the project folder (the one holding templates/, static/ and migrations/)."""
    return Path(__file__).resolve().parent.parent


# The longest request line gunicorn accepts at all (method, URL and protocol version, in bytes).
GUNICORN_MAX_REQUEST_LINE = 8190


def gunicorn_settings() -> dict:
    """Return gunicorn's settings from ``ANNOTATOR_BIND``, ``ANNOTATOR_WORKERS`` and friends."""
    return {
        "bind": _env("BIND", "127.0.0.1:8000"),
        "workers": int(_env("WORKERS", 4)),
        "threads": int(_env("THREADS", 1)),
        # Requests stay short (exports stream); a worker silent for this long is restarted.
        "timeout": int(_env("WORKER_TIMEOUT", 60)),
        "graceful_timeout": 20,
        "max_requests": 5000,
        "max_requests_jitter": 500,
        # The app is loaded once in the master and forked: workers start (and restart after
        # a crash) in milliseconds instead of re-importing it, and share its memory.
        "preload_app": _bool(_env("PRELOAD", True)),
        "accesslog": _env("ACCESS_LOG") or None,
        # gunicorn answers what breaks these limits itself, with a short HTML page, before the
        # app sees the request (README, "Requests gunicorn refuses"). The request line gets
        # gunicorn's maximum, well above ANNOTATOR_MAX_URL_LENGTH, so a URL that is merely too
        # long reaches the app and gets its JSON 414; headers keep gunicorn's defaults.
        "limit_request_line": GUNICORN_MAX_REQUEST_LINE,
        "limit_request_fields": 100,
        "limit_request_field_size": 8190,
        "errorlog": "-",
    }
