"""The annotation workspace page: /documents/<id>/annotate (docs/design.md section 6).

The page carries everything the workspace needs as JSON in a ``<script type="application/json">``
block (the text, its tokens, the schema, my annotations); static/js/annotate.js draws it. The
project's guidelines are markdown, rendered with raw HTML disabled and then sanitised.
"""

from flask import Blueprint
from flask import render_template
from flask import url_for
from flask_login import current_user

from annotator.errors import NotFound
from annotator.services import annotations
from annotator.services.access import own_assignment
from annotator.services.access import visible_document
from annotator.services.projects import render_guidelines

bp = Blueprint("annotate", __name__)

@bp.get("/documents/<int:did>/annotate")
def annotate(did):
    """Show the workspace for my assignment on a document.

    :raise NotFound: when the document is not assigned to me (as for a missing one).
    """
    user = current_user._get_current_object()
    document = visible_document(user, did)
    if own_assignment(user, did) is None:
        raise NotFound("Document not found.")
    state = annotations.get_annotations(user, did)
    project = document.project
    title = document.meta.get("title") if isinstance(document.meta, dict) else None
    payload = {
        "document": {"id": document.id, "external_id": document.external_id, "lang": document.lang,
                     "text": document.text, "tokens": document.tokens},
        "schema": project.schema,
        "annotations": state,
        "urls": {"api": url_for("annotations_api.get_annotations", did=did).rsplit("/annotations", 1)[0],
                 "next": url_for("main.next_document", pid=project.id),
                 "home": url_for("main.home")},
    }
    return render_template("annotate/workspace.html", document=document, project=project, payload=payload,
                           title=title or document.external_id or f"Document {document.id}",
                           status=state["status"], guidelines=render_guidelines(project.guidelines))
