"""Pages: the export page for admins (format, filters, split, and a live count of the result).

The page only gathers choices: its form is a GET to the export API, which the browser calls
with the session cookie (a GET needs no CSRF token) and saves as a download. The count comes
from the same service the export uses.
"""

from flask import Blueprint
from flask import render_template
from flask_login import current_user

from annotator.choices import ASSIGNMENT_STATUSES
from annotator.security import require_role
from annotator.services import assignment_lists
from annotator.services import exporting
from annotator.services import projects
from annotator.services.access import visible_project

bp = Blueprint("exports", __name__)

FORMAT_HINTS = {
    "jsonl": "One JSON record per document and annotator: offsets in code points and UTF-16, tokens, "
             "attributes, relations.",
    "conll": "Tab-separated tokens with one BIO column per label (nested spans get further columns); "
             "a zip of train/dev/test with a split.",
    "spacy": "A zip of spaCy DocBin files: every span in doc.spans[\"sc\"], the outermost in doc.ents.",
}


@bp.get("/export")
@require_role("admin")
def index():
    """List the projects, each with a link to its export page."""
    return render_template("exports/index.html", projects=projects.all_projects())


@bp.get("/projects/<int:pid>/export")
@require_role("admin")
def export_page(pid):
    """Show the export form of a project with the count of what the defaults export."""
    project = visible_project(current_user, pid)
    annotators = assignment_lists.annotator_names(project)
    summary = exporting.count_export(exporting.resolve_filters(project))
    return render_template("exports/project.html", project=project, annotators=annotators,
                           statuses=ASSIGNMENT_STATUSES, formats=exporting.FORMATS, hints=FORMAT_HINTS,
                           summary=summary)
