"""Admin pages: the progress dashboards (admins and reviewers) and their CSV download."""

from flask import Response
from flask import render_template
from flask import url_for
from flask_login import current_user

from annotator.security import require_role
from annotator.services import progress
from annotator.services.access import visible_project
from annotator.web.admin import bp


@bp.get("/progress")
@require_role("admin", "reviewer")
def progress_overview():
    """Every project's completion, with links to the dashboards."""
    return render_template("admin/progress_overview.html", rows=progress.overview())


@bp.get("/projects/<int:pid>/progress")
@require_role("admin", "reviewer")
def progress_page(pid):
    """The project's dashboard: charts and tables, refreshed from the API every 15 seconds."""
    project = visible_project(current_user, pid)
    data = progress.project_progress(project)
    return render_template("admin/progress.html", project=project, data=data,
                           api_url=url_for("projects_api.get_progress", pid=pid))


@bp.get("/projects/<int:pid>/progress.csv")
@require_role("admin", "reviewer")
def progress_csv(pid):
    """Download the per-annotator figures as CSV."""
    project = visible_project(current_user, pid)
    return Response(progress.progress_csv(progress.project_progress(project)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="progress-{project.id}.csv"'})
