"""Admin pages: projects and their schema, people, assignment, progress dashboards, audit log.

Thin views over the services: each reads its form, calls the service and renders. Every page is
for admins, except the progress dashboards, which reviewers see too. Form mistakes re-render
the page with the errors next to the form; nothing is stored then (the services check
everything before they write).
"""

from flask import Blueprint
from flask import redirect
from flask import url_for
from flask_login import current_user

from annotator.security import require_role
from annotator.validation import MAX_INT
from annotator.validation import MIN_INT

bp = Blueprint("admin", __name__)


def form_int(value, default=None):
    """Return a form or query value as an int, or ``default`` when it is none."""
    # A number no column can hold (?page=99999999999999999999) is no number at all here.
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if MIN_INT <= number <= MAX_INT else default


@bp.get("/")
@require_role("admin", "reviewer")
def index():
    """Send admins to the projects, reviewers to the dashboards."""
    return redirect(url_for("admin.projects" if current_user.role == "admin" else "admin.progress_overview"))


# The views register themselves on ``bp``; imported last, as they import it.
from annotator.web.admin import assignment  # noqa: E402, F401
from annotator.web.admin import audit  # noqa: E402, F401
from annotator.web.admin import people  # noqa: E402, F401
from annotator.web.admin import progress  # noqa: E402, F401
from annotator.web.admin import projects  # noqa: E402, F401
