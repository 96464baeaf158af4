"""API: projects, their members and their progress (docs/design.md section 5)."""

from flask import Response
from flask_login import current_user
from flask_smorest import Blueprint

from annotator.schemas import MemberOut
from annotator.schemas import MembersIn
from annotator.schemas import ProgressOut
from annotator.schemas import ProjectIn
from annotator.schemas import ProjectOut
from annotator.schemas import ProjectPatch
from annotator.security import require_role
from annotator.services import progress
from annotator.services import projects
from annotator.services.access import visible_project

blp = Blueprint("projects_api", __name__, description="Projects")


@blp.route("/projects", methods=["POST"])
@require_role("admin")
@blp.arguments(ProjectIn)
@blp.response(201, ProjectOut)
def create_project(data):
    """Create a project; the schema defaults to the conflict scheme."""
    return projects.create_project(data["name"], data["guidelines"], data["schema"],
                                   assignment=data["assignment"], actor=current_user)


@blp.route("/projects", methods=["GET"])
@blp.response(200, ProjectOut(many=True))
@blp.paginate()
def list_projects(pagination_parameters):
    """List the projects the caller may see (annotators: those they belong to), by name."""
    items, pagination_parameters.item_count = projects.list_projects(
        current_user, offset=pagination_parameters.first_item, limit=pagination_parameters.page_size)
    return items


@blp.route("/projects/<int:pid>", methods=["GET"])
@blp.response(200, ProjectOut)
def get_project(pid):
    """Return a project with its schema and guidelines (members, reviewers and admins)."""
    return visible_project(current_user, pid)


@blp.route("/projects/<int:pid>", methods=["PATCH"])
@require_role("admin")
@blp.arguments(ProjectPatch)
@blp.response(200, ProjectOut)
def update_project(data, pid):
    """Change name, guidelines, schema or assignment settings.

    A schema change that would orphan stored annotations answers 409 and lists them under
    ``errors.schema``.
    """
    project = visible_project(current_user, pid)
    return projects.update_project(project, actor=current_user, **data)


@blp.route("/projects/<int:pid>/members", methods=["POST"])
@require_role("admin")
@blp.arguments(MembersIn)
@blp.response(200, MemberOut(many=True))
def add_members(data, pid):
    """Add users to the project (idempotent); answers with all members."""
    project = visible_project(current_user, pid)
    projects.add_members(project, data["usernames"], actor=current_user)
    return projects.list_members(project)


@blp.route("/projects/<int:pid>/members", methods=["GET"])
@require_role("admin")
@blp.response(200, MemberOut(many=True))
def list_members(pid):
    """List the project's members."""
    return projects.list_members(visible_project(current_user, pid))


@blp.route("/projects/<int:pid>/members/<username>", methods=["DELETE"])
@require_role("admin")
@blp.response(204)
def remove_member(pid, username):
    """Remove a member; their open assignments go back to the pool, their annotations stay."""
    projects.remove_member(visible_project(current_user, pid), username, actor=current_user)


@blp.route("/projects/<int:pid>/progress", methods=["GET"])
@require_role("admin", "reviewer")
@blp.response(200, ProgressOut)
def get_progress(pid):
    """Per annotator, per label and overall figures (the dashboard's data)."""
    return progress.project_progress(visible_project(current_user, pid))


@blp.route("/projects/<int:pid>/progress.csv", methods=["GET"])
@require_role("admin", "reviewer")
def get_progress_csv(pid):
    """The per-annotator figures as CSV."""
    project = visible_project(current_user, pid)
    body = progress.progress_csv(progress.project_progress(project))
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="progress-{project.id}.csv"'})
