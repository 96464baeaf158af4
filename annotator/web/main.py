"""The annotator's home: my projects, my queue with progress, where I left off, next document."""

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_login import current_user

from annotator.choices import FINISHED_STATUSES
from annotator.services import progress
from annotator.services import projects as project_service
from annotator.services.access import visible_project
from annotator.services.assignments import next_for
from annotator.services.assignments import queue_for

bp = Blueprint("main", __name__)

DONE = FINISHED_STATUSES


@bp.get("/")
def home():
    """Show my projects, each with my queue and progress, and the document I worked on last."""
    user = current_user._get_current_object()
    projects = project_service.visible_projects(user)
    queue = queue_for(user)
    spans = progress.span_counts(user)
    by_project: dict[int, list] = {p.id: [] for p in projects}
    for assignment in queue:
        by_project.setdefault(assignment.document.project_id, []).append(assignment)
    summaries = []
    for project in projects:
        items = by_project.get(project.id, [])
        done = sum(1 for a in items if a.status in DONE)
        summaries.append({"project": project, "queue": items, "total": len(items), "done": done,
                          "percent": round(100 * done / len(items)) if items else 0,
                          "counts": {s: sum(1 for a in items if a.status == s)
                                     for s in ("assigned", "in_progress", "submitted", "skipped")}})
    in_progress = [a for a in queue if a.status == "in_progress"]
    last = max(in_progress, key=lambda a: a.updated_at, default=None)
    return render_template("main/home.html", summaries=summaries, last=last, spans=spans)


@bp.get("/projects/<int:pid>/next")
def next_document(pid):
    """Open my next document in the project (work in progress first), or say none is left.

    :raise NotFound: when I am not a member of the project.
    """
    user = current_user._get_current_object()
    project = visible_project(user, pid)
    document = next_for(user, project)
    if document is None:
        flash(f"Nothing left to annotate in {project.name}. Well done.", "info")
        return redirect(url_for("main.home"))
    return redirect(url_for("annotate.annotate", did=document.id))
