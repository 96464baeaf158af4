"""API: documents (docs/design.md section 5): import, list, read."""

from flask import current_app
from flask import request
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import ValidationError

from annotator.api import bodies
from annotator.errors import Invalid
from annotator.schemas import DocumentOut
from annotator.schemas import DocumentQuery
from annotator.schemas import DocumentSummaryOut
from annotator.schemas import ImportFormIn
from annotator.schemas import ImportJsonIn
from annotator.schemas import ImportReportOut
from annotator.security import require_role
from annotator.services import documents
from annotator.services import importing
from annotator.services.access import visible_document
from annotator.services.access import visible_project
from annotator.services.importing import readers

blp = Blueprint("documents_api", __name__, description="Documents")

IMPORT_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": ImportJsonIn},
        "multipart/form-data": {"schema": {
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {"type": "string", "format": "binary",
                         "description": "jsonl, json, txt, html, csv or zip"},
                "format": {"type": "string", "enum": list(readers.FORMATS)},
                "text_column": {"type": "string", "description": "CSV: the column holding the text"},
                "as_user": {"type": "string"},
                "clean": {"type": "boolean"},
                "skip_invalid": {"type": "boolean"},
                "suggestions": {"type": "boolean"},
            },
        }},
    },
}


def _load(schema, data):
    try:
        return schema.load(data)
    except ValidationError as error:
        raise Invalid("The request is not valid.", error.messages) from None


@blp.route("/projects/<int:pid>/documents", methods=["POST"])
@require_role("admin")
@blp.doc(requestBody=IMPORT_BODY)
@blp.response(201, ImportReportOut)
def import_documents(pid):
    """Import documents: a JSON list of records, or an uploaded file (multipart ``file``).

    Atomic unless ``skip_invalid``: an invalid record rejects everything with 422 and
    ``errors`` keyed by line (record number in JSON lists).
    """
    project = visible_project(current_user, pid)
    limits = readers.Limits(max_chars=importing.config_max_chars())
    if request.mimetype == "multipart/form-data":
        options = _load(ImportFormIn(), {key: value for key, value in request.form.items()})
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise Invalid("Choose a file to upload.", {"file": ["Missing file."]})
        records = readers.iter_upload(upload.stream, upload.filename, options.pop("format"), limits=limits,
                                      text_column=options.pop("text_column"))
    elif request.is_json:
        # Not cached: an import body may be tens of megabytes.
        options = _load(ImportJsonIn(), bodies.load_json(request.get_data(cache=False)))
        records = enumerate(options.pop("documents"), 1)
    else:
        raise bodies.unsupported(request.mimetype, "application/json or multipart/form-data")
    as_user = importing.find_import_user(project, options.pop("as_user"))
    report = importing.import_records(project, records, as_user=as_user, actor=current_user,
                                      max_chars=limits.max_chars, **options)
    current_app.logger.info("import into project %s: %s created", project.id, report.created)
    return report.as_dict()


@blp.route("/projects/<int:pid>/documents", methods=["GET"])
@require_role("admin", "reviewer")
@blp.arguments(DocumentQuery, location="query")
@blp.response(200, DocumentSummaryOut(many=True))
@blp.paginate(page_size=50, max_page_size=500)
def list_documents(query, pid, pagination_parameters):
    """List a project's documents without their text, oldest first; filter and search."""
    project = visible_project(current_user, pid)
    items, total = documents.list_documents(project, offset=pagination_parameters.first_item,
                                            limit=pagination_parameters.page_size, **query)
    pagination_parameters.item_count = total
    return items


@blp.route("/documents/<int:did>", methods=["GET"])
@blp.response(200, DocumentOut)
def get_document(did):
    """Return a document with its text and tokens (assigned users, reviewers and admins)."""
    return visible_document(current_user, did)
