"""Fixtures: the app on each database, clients, a CLI runner, a live server and a browser.

Every test that uses ``app`` runs once on SQLite and, when ANNOTATOR_TEST_POSTGRES_URL is set,
once more on PostgreSQL. Each backend gets a database of its own for the session (PostgreSQL:
a fresh database created next to the given one, so parallel runs never meet), built by the
real migrations, and emptied before every test.
"""

import os
import re
import secrets
import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from flask_migrate import upgrade
from sqlalchemy import text
from werkzeug.serving import make_server

from annotator import create_app
from annotator.extensions import db
from annotator.extensions import limiter
from tests import factories

POSTGRES_URL = os.environ.get("ANNOTATOR_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
CHROMIUM = os.environ.get("ANNOTATOR_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("ANNOTATOR_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def base_config(database_url: str) -> dict:
    """Return the app config the tests use: the real one, with a test key and database."""
    return {
        "SECRET_KEY": secrets.token_hex(32),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RATELIMIT_STORAGE_URI": "memory://",
        "TESTING": True,
    }


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory):
    """Create one empty, migrated database per backend for the whole session."""
    urls = {"sqlite": f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"}
    created = None
    if POSTGRES_URL:
        created = f"annotator_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{created}"')
        urls["postgresql"] = "postgresql+psycopg://" + re.sub(
            r"^postgres(ql)?(\+\w+)?://", "", POSTGRES_URL).rsplit("/", 1)[0] + "/" + created
    for url in urls.values():
        app = create_app(base_config(url))
        with app.app_context():
            upgrade(directory=str(Path(__file__).parent.parent / "migrations"))
            db.engine.dispose()
    yield urls
    if created:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')


def empty_database():
    """Delete every row, children first, and restart the id sequences."""
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        quoted = ", ".join(f'"{name}"' for name in tables)
        db.session.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(text(f'DELETE FROM "{name}"'))
        # AUTOINCREMENT keeps counting across deletes; tests start from id 1 on both databases.
        db.session.execute(text("DELETE FROM sqlite_sequence"))
    db.session.commit()


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def make_app(database_urls, backend):
    """Return a factory of apps on this test's database, with config overrides."""
    apps = []

    def factory(**overrides):
        app = create_app({**base_config(database_urls[backend]), **overrides})
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        empty_database()
        limiter.reset()
    factories.bind(app)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def ctx(app):
    """Push an app context for tests of services alone.

    Never use it in a test that makes client calls: a request reuses a pushed context and
    leaks ``g`` (the logged-in user) between requests. Such tests wrap only their database
    asserts in ``with app.app_context():``.
    """
    with app.app_context():
        yield app


class Login:
    """Logs a test client in through the real login form, CSRF token included."""

    def __init__(self, client):
        self.client = client

    def csrf(self) -> str:
        page = self.client.get("/login").get_data(as_text=True)
        return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

    def __call__(self, username, password=factories.PASSWORD, next_url="", address="127.0.0.1"):
        token = self.csrf()
        return self.client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": token, "next": next_url},
                                environ_base={"REMOTE_ADDR": address})

    def page_csrf(self, path="/") -> str:
        """Return the CSRF token a logged-in page carries (for X-CSRFToken)."""
        page = self.client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


@pytest.fixture
def login(client):
    return Login(client)


@pytest.fixture
def live_server(app):
    """Serve the app on a free local port in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium, driven by Playwright; skipped (or failed, in CI) if missing."""
    if not Path(CHROMIUM).exists():
        if REQUIRE_BROWSER:
            pytest.fail(f"ANNOTATOR_REQUIRE_BROWSER=1 but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser page; console errors and CSP violations fail the test."""
    context = browser.new_context(base_url=live_server)
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_console(msg):
        # A 4xx answer the test provokes on purpose is logged as "Failed to load resource".
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            problems.append(f"console {msg.type}: {msg.text}")

    page.on("console", on_console)
    yield page
    context.close()
    assert not problems, problems


def browser_login(page, username, password=factories.PASSWORD):
    """Log in through the login form with the real keyboard and mouse."""
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))


REDIS_URL = os.environ.get("ANNOTATOR_TEST_REDIS_URL")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn(app, database_urls, backend):
    """Start the real app under gunicorn (separate worker processes) on this test's database.

    Returns a function ``start(workers=2, **env)`` giving the base URL; the servers stop at the
    end of the test.
    """
    import subprocess
    import sys
    import time
    import urllib.request

    processes = []

    def start(workers=2, **env):
        port = free_port()
        environment = {**os.environ, "ANNOTATOR_BIND": f"127.0.0.1:{port}", "ANNOTATOR_WORKERS": str(workers),
                       "ANNOTATOR_DATABASE_URL": database_urls[backend],
                       "ANNOTATOR_SECRET_KEY": app.config["SECRET_KEY"], **env}
        root = Path(__file__).parent.parent
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:app"],
                                   cwd=root, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1):
                    return url
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(process.stderr.read().decode()[-3000:]) from None
                time.sleep(0.05)
        raise RuntimeError("gunicorn did not answer within 30 s")

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        process.stderr.close()


@pytest.fixture
def redis_url():
    """A Redis database for cross-worker rate limits (CI sets ANNOTATOR_TEST_REDIS_URL)."""
    if not REDIS_URL:
        pytest.skip("ANNOTATOR_TEST_REDIS_URL is not set (CI sets it)")
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()
