"""API: assignments, my queue and the next document (docs/design.md section 5)."""

from flask import Response
from flask_login import current_user
from flask_smorest import Blueprint

from annotator.schemas import AssignIn
from annotator.schemas import AssignmentOut
from annotator.schemas import AssignOut
from annotator.schemas import MyAssignmentsQuery
from annotator.schemas import NextDocumentOut
from annotator.schemas import ProjectAssignmentsQuery
from annotator.schemas import ReassignIn
from annotator.security import require_role
from annotator.services import assignment_lists
from annotator.services import assignments
from annotator.services.access import visible_project

blp = Blueprint("assignments_api", __name__, description="Assignments")


@blp.route("/projects/<int:pid>/assignments", methods=["POST"])
@require_role("admin")
@blp.arguments(AssignIn)
@blp.response(201, AssignOut)
def assign_documents(data, pid):
    """Give each document ``per_document`` distinct annotators, balanced, least-loaded first.

    Without ``documents``, every document still short of annotators is filled. Repeating a
    call creates nothing new. ``dry_run`` answers 200 with the plan and stores nothing.
    """
    project = visible_project(current_user, pid)
    report = assignments.assign_documents(project, data["annotators"], data["per_document"],
                                          data.get("documents"), dry_run=data["dry_run"], actor=current_user)
    return (report, 200) if report.dry_run else report


@blp.route("/projects/<int:pid>/assignments", methods=["GET"])
@require_role("admin", "reviewer")
@blp.arguments(ProjectAssignmentsQuery, location="query")
@blp.response(200, AssignmentOut(many=True))
@blp.paginate()
def list_assignments(args, pid, pagination_parameters):
    """List the project's assignments, by document then annotator."""
    visible_project(current_user, pid)
    items, pagination_parameters.item_count = assignment_lists.list_assignments(
        pid, annotator=args.get("annotator"), status=args.get("status"), document=args.get("document"),
        offset=pagination_parameters.first_item, limit=pagination_parameters.page_size)
    return items


@blp.route("/assignments/<int:aid>", methods=["DELETE"])
@require_role("admin")
@blp.response(204)
def delete_assignment(aid):
    """Unassign; the annotator's annotations stay stored and come back if reassigned."""
    assignments.unassign(aid, actor=current_user)


@blp.route("/assignments/<int:aid>", methods=["PATCH"])
@require_role("admin")
@blp.arguments(ReassignIn)
@blp.response(200, AssignmentOut)
def reassign(data, aid):
    """Move an assignment to another annotator (``{"annotator": username}``)."""
    return assignments.reassign(aid, data["annotator"], actor=current_user)


@blp.route("/me/assignments", methods=["GET"])
@blp.arguments(MyAssignmentsQuery, location="query")
@blp.response(200, AssignmentOut(many=True))
@blp.paginate()
def my_assignments(args, pagination_parameters):
    """My queue: in progress first, then assigned, then finished."""
    items, pagination_parameters.item_count = assignment_lists.list_queue(
        current_user, args.get("project"), args.get("status"),
        offset=pagination_parameters.first_item, limit=pagination_parameters.page_size)
    return items


@blp.route("/projects/<int:pid>/next", methods=["GET"])
@blp.response(200, NextDocumentOut)
@blp.alt_response(204, description="Nothing is left for you in this project.")
def next_document(pid):
    """My next document: the one in progress, else the next assigned one.

    In dynamic mode this claims a document that still needs annotators. 204 when nothing is left.
    """
    project = visible_project(current_user, pid)
    document = assignments.next_for(current_user, project)
    if document is None:
        return Response(status=204)
    return document
