"""API: export a project's annotations as training data (docs/design.md section 5 and 7).

``GET /projects/{pid}/export`` streams the file: the filters are checked first (422 naming the
field), then the body is written as the database is read, so the download starts at once and
memory stays flat. ``GET /projects/{pid}/export/summary`` counts what an export with the same
filters would hold (the export page shows it live).
"""

from flask import Response
from flask import stream_with_context
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import RAISE

from annotator.schemas import ExportQuery
from annotator.schemas import ExportSummaryOut
from annotator.security import require_role
from annotator.services import exporting
from annotator.services.access import visible_project

blp = Blueprint("export_api", __name__, description="Export (admins only)")


# Unknown query parameters are refused (422), not ignored: a typo such as ``stauts=`` must not
# quietly export something else.


def _options(query: dict) -> dict:
    return {"status": query.get("status") or exporting.DEFAULT_STATUS, "annotators": query.get("annotator"),
            "document_ids": query.get("document"), "updated_since": query.get("updated_since"),
            "split": query.get("split"), "seed": query.get("seed", exporting.DEFAULT_SEED)}


@blp.route("/projects/<int:pid>/export", methods=["GET"])
@require_role("admin")
@blp.arguments(ExportQuery, location="query", unknown=RAISE)
@blp.alt_response(200, description="The export file, streamed: JSONL (default), CoNLL, or a zip "
                  "(spaCy DocBin shards; CoNLL with a split).", success=True)
def export_project(query, pid):
    """Download the project's annotations: jsonl (default), conll or spacy.

    One JSONL record per document and annotator (docs/design.md section 7); ``status`` (default
    submitted), ``annotator`` and ``document`` take repeated or comma-separated values;
    ``updated_since`` is ISO 8601 (UTC when no zone is given); ``split=80,10,10`` with ``seed``
    assigns each document to train, dev or test. An empty selection is a valid empty file.
    """
    project = visible_project(current_user, pid)
    export = exporting.open_export(project, query["format"], **_options(query))
    response = Response(stream_with_context(export.chunks()), mimetype=export.mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response


@blp.route("/projects/<int:pid>/export/summary", methods=["GET"])
@require_role("admin")
@blp.arguments(ExportQuery, location="query", unknown=RAISE)
@blp.response(200, ExportSummaryOut)
def export_summary(query, pid):
    """Count the records, documents, spans and relations an export with these filters holds."""
    project = visible_project(current_user, pid)
    return exporting.count_export(exporting.resolve_filters(project, **_options(query)))
