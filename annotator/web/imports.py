"""Pages: the import page (admins) and the document list (admins and reviewers)."""

from urllib.parse import urlencode

from flask import Blueprint
from flask import current_app
from flask import render_template
from flask import request
from flask_login import current_user
from marshmallow import ValidationError

from annotator.errors import Invalid
from annotator.extensions import db
from annotator.schemas import DocumentQuery
from annotator.schemas import ImportFormIn
from annotator.security import require_role
from annotator.services import documents
from annotator.services import importing
from annotator.services import projects as project_service
from annotator.services.access import visible_project
from annotator.services.importing import readers
from annotator.validation import as_id

bp = Blueprint("imports", __name__)

PAGE_SIZE = 50
FORMAT_CHOICES = [("", "Detect from the file name or content"), ("jsonl", "JSON lines (.jsonl)"),
                  ("json", "JSON (.json)"), ("txt", "Plain text: one document"), ("html", "HTML page"),
                  ("csv", "CSV (.csv)"), ("zip", "Zip of files")]


def _projects():
    return project_service.all_projects()


def _chosen_project(projects, value):
    if as_id(value) is not None:
        return visible_project(current_user, as_id(value))
    return projects[0] if projects else None


@bp.route("/import", methods=["GET", "POST"])
@require_role("admin")
def upload():
    """Show the import form; on POST import a file or pasted text and show the report."""
    projects = _projects()
    form = request.form if request.method == "POST" else request.args
    project = _chosen_project(projects, form.get("project"))
    context = {"projects": projects, "project": project, "formats": FORMAT_CHOICES, "form": form,
               "report": None, "failure": None, "max_upload_mb": _max_upload_mb()}
    if request.method == "GET":
        return render_template("imports/upload.html", **context)
    status = 200
    try:
        context["report"] = _run_import(project)
    except Invalid as error:
        db.session.rollback()
        context["failure"] = {"message": error.message, "errors": sorted(_error_rows(error.errors), key=_place)}
        status = 422
    return render_template("imports/upload.html", **context), status


def _max_upload_mb():
    return current_app.config.get("MAX_UPLOAD_MB")


def _run_import(project):
    if project is None:
        raise Invalid("Create a project first.", {"project": ["No project to import into."]})
    fields = {key: request.form.get(key) for key in ("format", "text_column", "as_user") if request.form.get(key)}
    for flag in ("clean", "skip_invalid", "suggestions"):
        fields[flag] = flag in request.form
    try:
        options = ImportFormIn().load(fields)
    except ValidationError as error:
        raise Invalid("The form is not valid.", error.messages) from None
    limits = readers.Limits(max_chars=importing.config_max_chars())
    upload = request.files.get("file")
    pasted = request.form.get("text") or ""
    fmt, text_column = options.pop("format"), options.pop("text_column")
    if upload is not None and upload.filename:
        records = readers.iter_upload(upload.stream, upload.filename, fmt, limits=limits, text_column=text_column)
        source = upload.filename
    elif pasted.strip():
        records = readers.iter_pasted(pasted, fmt, limits=limits, text_column=text_column)
        source = "pasted text"
    else:
        raise Invalid("Choose a file or paste some text.", {"file": ["Nothing to import."]})
    as_user = importing.find_import_user(project, options.pop("as_user"))
    report = importing.import_records(project, records, as_user=as_user, actor=current_user,
                                      max_chars=limits.max_chars, **options)
    result = report.as_dict()
    result["source"] = source
    result["error_rows"] = sorted(_error_rows(report.errors), key=_place)
    return result


def _place(row) -> tuple:
    file, _, line = row["where"].rpartition(":")
    return (file, int(line)) if line.isdigit() else (row["where"], 0)


def _error_rows(errors) -> list[dict]:
    """Turn ``{"4": ["..."], "a.txt:2": ["..."]}`` into rows for the error table."""
    rows = []
    for key, messages in (errors or {}).items():
        messages = messages if isinstance(messages, list) else [messages]
        if isinstance(messages[0], dict):  # nested form errors
            messages = [f"{inner}: {'; '.join(map(str, m))}" for inner, m in messages[0].items()]
        rows.append({"where": key, "messages": [str(m) for m in messages]})
    return rows


@bp.get("/documents")
@require_role("admin", "reviewer")
def document_list():
    """List a project's documents: paginated, filtered by status and annotator, searchable."""
    projects = _projects()
    project = _chosen_project(projects, request.args.get("project"))
    raw = {key: request.args.get(key) for key in ("status", "annotator", "q") if request.args.get(key)}
    try:
        query = DocumentQuery().load(raw)
    except ValidationError as error:
        raise Invalid("The filters are not valid.", error.messages) from None
    page = request.args.get("page", "1")
    page = int(page) if page.isdecimal() and 0 < int(page) < 1_000_000 else 1
    items, total = ([], 0)
    if project is not None:
        items, total = documents.list_documents(project, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE, **query)
    pages = max(1, -(-total // PAGE_SIZE))
    base = {"project": project.id if project else "", **query}

    def page_url(number):
        return "?" + urlencode({**base, "page": number})

    return render_template("imports/documents.html", projects=projects, project=project, items=items, total=total,
                           page=page, pages=pages, query=query, page_url=page_url,
                           statuses=documents.LIST_STATUSES)
