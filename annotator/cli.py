"""Command-line interface: thin wrappers over the services.

Each command parses its arguments, calls one service and prints a one-line summary; the
docstring is its ``--help`` text.
"""

import json
import os
import secrets
import sys
from contextlib import nullcontext

import click
from flask import current_app
from flask.cli import AppGroup
from flask.cli import with_appcontext
from sqlalchemy import select

from annotator.choices import EXPORT_FORMATS
from annotator.choices import IMPORT_FORMATS
from annotator.choices import ROLES
from annotator.errors import AnnotatorError
from annotator.extensions import db
from annotator.models import Project
from annotator.models import User
from annotator.services import assignments
from annotator.services import exporting
from annotator.services import importing
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
@click.option("--role", type=click.Choice(ROLES), default="annotator",
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


@users_cli.command("set-password")
@click.argument("username")
def set_password_command(username):
    """Set USERNAME's password (asked twice, or two lines from a pipe); their sessions end."""
    password = read_new_password()
    try:
        user = users.update_user(username, password=password)
    except AnnotatorError as error:
        fail(error)
    click.echo(f"Password of {user.username} changed; their sessions and tokens have ended.")


@users_cli.command("unlock")
@click.argument("username")
def unlock_command(username):
    """Forget USERNAME's failed logins, so they may log in at once."""
    try:
        user = users.unlock_user(username)
    except AnnotatorError as error:
        fail(error)
    click.echo(f"Unlocked {user.username}: their failed logins are forgotten.")
    if current_app.config["RATELIMIT_STORAGE_URI"].startswith("memory://"):
        # Memory counters live inside each server process, out of this command's reach.
        click.echo("Note: with memory:// rate-limit storage each server process keeps its own "
                   "counters, out of this command's reach; they lapse when the window ends or the "
                   "server restarts. Redis storage lets this command unlock everywhere.", err=True)


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
    report = importing.import_records(project, records)
    annotators = [name for name, role in DEMO_USERS if role == "annotator"]
    assigned = assignments.assign_documents(project, annotators, per_document=len(annotators))
    click.echo(f"Demo project {project.name!r}: {report.created} articles added, "
               f"{len(report.duplicates)} already there; {len(assigned.created)} assignments made.")
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


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@click.command("assign")
@click.argument("project")
@click.option("--annotators", required=True, help="Usernames, comma-separated: a,b,c.")
@click.option("--per-document", "per_document", type=int, required=True, help="Annotators per document (k).")
@click.option("--documents", "document_ids", default=None,
              help="Document ids, comma-separated; default: every document still short of annotators.")
@click.option("--dry-run", is_flag=True, help="Print the plan and store nothing.")
@with_appcontext
def assign_command(project, annotators, per_document, document_ids, dry_run):
    """Give each document of PROJECT (id or name) k distinct annotators, balanced and idempotent."""
    try:
        ids = [int(part) for part in _split(document_ids)] if document_ids is not None else None
    except ValueError:
        raise click.BadParameter("use document ids separated by commas, e.g. 1,2,3",
                                 param_hint="--documents") from None
    try:
        target = projects.get_project(project)
        report = assignments.assign_documents(target, _split(annotators), per_document, ids, dry_run=dry_run)
    except AnnotatorError as error:
        fail(error)
    verb = "Would assign" if dry_run else "Assigned"
    count = len(report.planned) if dry_run else len(report.created)
    loads = " ".join(f"{name}={n}" for name, n in report.loads.items())
    click.echo(f"{verb} {count} in {target.name!r}: {report.documents} document(s) considered, "
               f"{report.complete} already complete; open work now: {loads}.")
    if report.short:
        click.echo(f"  {len(report.short)} document(s) could not reach {per_document} annotators.")


@click.command("export")
@click.argument("project")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="The file to write; '-' for standard output.")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="jsonl",
              show_default=True)
@click.option("--status", multiple=True, help="Assignment status to export (repeat or comma-separate; "
              "default: submitted).")
@click.option("--annotator", multiple=True, help="Only this annotator's work (username; repeatable).")
@click.option("--document", multiple=True, help="Only this document id (repeatable).")
@click.option("--updated-since", help="Only work changed at or after this ISO 8601 time (UTC if no zone).")
@click.option("--split", help="Train, dev and test percentages by document, e.g. 80,10,10.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split.")
@with_appcontext
def export_command(project, output, fmt, status, annotator, document, updated_since, split, seed):
    """Export PROJECT (name or id) as training data: jsonl, conll or spacy (see docs/export.md).

    The file appears only once complete; a progress bar goes to standard error.
    """
    try:
        target = projects.get_project(project)
        export = exporting.open_export(target, fmt, status=status or exporting.DEFAULT_STATUS,
                                       annotators=annotator, document_ids=document,
                                       updated_since=updated_since, split=split, seed=seed)
        total = exporting.count_export(export.filters)["records"]
    except AnnotatorError as error:
        fail(error)
    partial = None if output == "-" else f"{output}.part"
    try:
        with (open(partial, "wb") if partial else nullcontext(sys.stdout.buffer)) as handle, \
                click.progressbar(length=total, label=f"Exporting {total:,} records", file=sys.stderr,
                                  update_min_steps=max(1, total // 200)) as bar:
            export.write(handle, progress=lambda: bar.update(1))
        if partial:
            os.replace(partial, output)
    finally:
        if partial and os.path.exists(partial):
            os.remove(partial)
    click.echo(f"Exported {total:,} records of {target.name!r} as {fmt} to {output}.", err=output == "-")


@click.command("import")
@click.argument("project")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(IMPORT_FORMATS),
              help="Read every file in this format; default: from each file's extension.")
@click.option("--clean", is_flag=True, help="Drop boilerplate lines of scraped pages (Advertisement...).")
@click.option("--as", "as_user", metavar="USER", help="A project member whose annotation set the spans become.")
@click.option("--skip-invalid", is_flag=True, help="Store the valid records and report the others.")
@click.option("--suggestions", is_flag=True, help="Store the spans as suggestions.")
@click.option("--text-column", help="CSV: the column holding the text (default: text).")
@with_appcontext
def import_command(project, paths, fmt, clean, as_user, skip_invalid, suggestions, text_column):
    """Import articles into PROJECT (name or id) from files, folders and zips (see docs/import.md).

    Atomic unless --skip-invalid: one invalid record and nothing is stored, every error listed.
    """
    from annotator.services.importing import readers

    progress = readers.Progress()
    limits = readers.Limits(max_chars=importing.config_max_chars())
    try:
        target = projects.get_project(project)
        user = importing.find_import_user(target, as_user)
        records = readers.iter_paths(list(paths), fmt, limits=limits, text_column=text_column,
                                     progress=progress)
        with click.progressbar(length=1, label="Importing", file=sys.stderr) as bar:
            def advance(report):
                if progress.total:
                    bar.length = progress.total
                    bar.update(progress.done - bar.pos)
                bar.label = f"Importing: {report.created:,} new"

            report = importing.import_records(target, records, as_user=user, suggestions=suggestions,
                                              skip_invalid=skip_invalid, max_chars=limits.max_chars,
                                              clean=clean, progress=advance)
    except AnnotatorError as error:
        fail(error)
    rate = report.records / report.seconds if report.seconds else 0
    click.echo(f"Imported {report.created:,} documents into {target.name!r} from {report.records:,} records "
               f"in {report.seconds:.1f} s ({rate:,.0f} records/s, {report.cpu_seconds:.1f} s CPU): "
               f"{report.duplicate_count:,} duplicates, "
               f"{report.annotation_sets:,} annotation sets, {report.error_count:,} invalid.")
    for entry in report.as_dict()["errors"]:
        where = f"{entry['file']}:{entry['line']}" if entry.get("file") else f"line {entry['line']}"
        click.echo(f"  skipped {where}: {entry['message']}", err=True)


documents_cli = AppGroup("documents", help="Maintain stored documents.")


@documents_cli.command("retokenize")
@click.option("--project", help="Only this project (name or id); default: every project.")
@click.option("--dry-run", is_flag=True, help="Count the documents whose tokens would change; store nothing.")
def retokenize_command(project, dry_run):
    """Recompute the stored tokens of documents, so that no token splits a grapheme cluster.

    Documents imported before tokens kept flags, ZWJ sequences and skin tones whole get the
    tokens an import gives now; a second run changes nothing.
    """
    try:
        target = projects.get_project(project) if project is not None else None
        report = importing.retokenize_documents(target, dry_run=dry_run)
    except AnnotatorError as error:
        fail(error)
    where = f"in {target.name!r}" if target is not None else "in every project"
    if dry_run:
        click.echo(f"Checked {report.checked:,} documents {where}: tokens would change in "
                   f"{report.changed:,} (dry run: nothing stored).")
    else:
        click.echo(f"Checked {report.checked:,} documents {where}: tokens changed in {report.changed:,}.")


def register(app):
    """Add the commands to ``flask --app app``."""
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(export_command)
    app.cli.add_command(assign_command)
    app.cli.add_command(import_command)
    app.cli.add_command(documents_cli)
