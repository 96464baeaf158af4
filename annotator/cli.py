"""Command-line interface: thin wrappers over the services.

Each command parses its arguments, calls one service and prints a one-line summary; the
docstring is its ``--help`` text.
"""

import json
import secrets
import sys

import click
from flask.cli import AppGroup
from flask.cli import with_appcontext
from sqlalchemy import select

from annotator.errors import AnnotatorError
from annotator.extensions import db
from annotator.models import Project
from annotator.models import User
from annotator.services import documents
from annotator.services import projects
from annotator.services import users

users_cli = AppGroup("users", help="Manage users.")

DEMO_PROJECT = "Conflict demo"
DEMO_USERS = (("admin", "admin"), ("amira", "annotator"), ("bruno", "annotator"))


def fail(error: AnnotatorError):
    """Print a domain error with its field errors and exit with status 1."""
    click.echo(f"Error: {error.message}", err=True)
    for key, messages in (error.errors or {}).items():
        for message in messages if isinstance(messages, list) else [messages]:
            click.echo(f"  {key}: {message}", err=True)
    sys.exit(1)


def read_new_password() -> str:
    """Ask for a password twice; from a pipe, read the two lines from standard input."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    first = sys.stdin.readline().rstrip("\r\n")
    second = sys.stdin.readline().rstrip("\r\n")
    if first != second:
        raise click.ClickException("The two passwords differ.")
    return first


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "reviewer", "annotator"]), default="annotator",
              show_default=True)
def create_user_command(username, role):
    """Create a user; the password is asked twice (or read as two lines from a pipe)."""
    password = read_new_password()
    try:
        user = users.create_user(username, password, role)
    except AnnotatorError as error:
        fail(error)
    click.echo(f"Created {role} {user.username}.")


@users_cli.command("token")
@click.argument("username")
@click.option("--name", default="cli", help="A label for the token.")
def token_command(username, name):
    """Print a new API bearer token for USERNAME (shown once; only its hash is kept)."""
    try:
        user = users.get_user(username)
    except AnnotatorError as error:
        fail(error)
    click.echo(users.issue_token(user, name))


@click.command("demo")
@with_appcontext
def demo_command():
    """Create the demo project with the sample articles, an admin and two annotators.

    Idempotent: a second run creates nothing and prints no passwords.
    """
    created = []
    for username, role in DEMO_USERS:
        if db.session.scalar(select(User.id).where(User.username == username)) is None:
            password = secrets.token_urlsafe(12)
            users.create_user(username, password, role)
            created.append((username, role, password))
    project = db.session.scalar(select(Project).where(Project.name == DEMO_PROJECT))
    if project is None:
        project = projects.create_project(
            DEMO_PROJECT,
            guidelines=DEMO_GUIDELINES,
            assignment={"mode": "static", "per_document": 2},
        )
    projects.add_members(project, [name for name, _ in DEMO_USERS])
    path = documents_path()
    with open(path, encoding="utf-8") as handle:
        records = [(n, strip_annotations(json.loads(line)))
                   for n, line in enumerate(handle, 1) if line.strip()]
    report = documents.import_records(project, records)
    click.echo(f"Demo project {project.name!r}: {report.created} articles added, "
               f"{len(report.duplicates)} already there.")
    for username, role, password in created:
        click.echo(f"  {role:<9} {username:<8} password: {password}")
    if created:
        click.echo("These passwords are shown only once.")
    else:
        click.echo("Demo users exist already; reset a password with the admin pages or the API.")


def documents_path():
    from pathlib import Path

    return Path(__file__).parent / "data" / "conflict_sample.jsonl"


def strip_annotations(record: dict) -> dict:
    """Keep a sample article's text and metadata; annotators start from a blank page."""
    return {key: record[key] for key in ("id", "text", "meta") if key in record}


DEMO_GUIDELINES = """# Conflict spans v1

Highlight **ACTOR**, **WEAPON**, **LOCATION** and **CASUALTY_CLAIM** spans.

- No span starts or ends on whitespace or punctuation, or splits a word.
- Leave out leading articles and titles ("the", "Col.") from ACTOR, WEAPON and LOCATION.
- Spans may nest ("western Mosul" contains "Mosul") but may not cross.
- A casualty claim spans the quantity phrase, the victim noun and the outcome word.
- Link relations only when the same sentence makes them explicit.
"""


def register(app):
    """Add the commands to ``flask --app app``."""
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_command)
