"""Factories: plain functions that persist a row with defaults and return it.

Each factory pushes its own app context, so tests call them freely and never hold a context
around client calls (a request would reuse it and leak ``g`` between requests, Flask <= 3.1).
Returned rows are detached but keep their loaded attributes.
"""

import functools
import itertools
import json
from pathlib import Path

from werkzeug.security import generate_password_hash

from annotator.extensions import db
from annotator.models import Project
from annotator.models import ProjectMember
from annotator.models import User
from annotator.services import importing
from annotator.services import users
from annotator.services.schema import default_schema

PASSWORD = "correct horse battery"
# Hashed once at import, since hashing for each test is slow.
PASSWORD_HASH = generate_password_hash(PASSWORD)
CORPUS = Path(__file__).parent / "data" / "conflict_sample.jsonl"
_numbers = itertools.count(1)
_app = None


def bind(app):
    """Make the factories work on ``app`` (the ``app`` fixture calls this)."""
    global _app
    _app = app


def in_app(function):
    """Run ``function`` inside an app context of the bound app."""

    @functools.wraps(function)
    def wrapped(*args, **kwargs):
        with _app.app_context():
            return function(*args, **kwargs)

    return wrapped


@in_app
def make_user(username=None, role="annotator", **overrides) -> User:
    """Create a user whose password is :data:`PASSWORD`."""
    user = User(username=username or f"user{next(_numbers)}", role=role,
                password_hash=PASSWORD_HASH, **overrides)
    db.session.add(user)
    db.session.commit()
    return user


@in_app
def make_project(name=None, members=(), schema=None, **overrides) -> Project:
    """Create a project with the default schema and the given member users."""
    project = Project(name=name or f"project {next(_numbers)}", schema=schema or default_schema(),
                      **overrides)
    db.session.add(project)
    db.session.flush()
    for user in members:
        db.session.add(ProjectMember(project_id=project.id, user_id=user.id))
    db.session.commit()
    return project


@in_app
def make_documents(project, texts, **options) -> list[int]:
    """Import plain texts (or records) into ``project`` and return the new document ids."""
    records = [(n, t if isinstance(t, dict) else {"text": t}) for n, t in enumerate(texts, 1)]
    return importing.import_records(project, records, **options).document_ids


def corpus_records() -> list[dict]:
    """Return the sample corpus records (gold spans and relations)."""
    with open(CORPUS, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@in_app
def token_for(user) -> dict:
    """Return request headers authenticating ``user`` with a fresh bearer token."""
    return {"Authorization": f"Bearer {users.issue_token(user)}"}
