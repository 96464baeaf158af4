"""Admin pages: assigning documents to annotators, unassigning and reassigning."""

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from annotator.errors import AnnotatorError
from annotator.errors import error_sentence
from annotator.errors import form_errors
from annotator.security import require_role
from annotator.services import assignment_lists
from annotator.services import assignments
from annotator.services import projects
from annotator.services.access import visible_project
from annotator.web.admin import bp
from annotator.web.admin import form_int

PAGE_SIZE = 50
FILTERS = ("q", "show", "annotator")


def _filter(args) -> dict:
    return {"q": args.get("q") or "", "show": args.get("show", "all"), "annotator": args.get("annotator") or ""}


@bp.route("/projects/<int:pid>/assign", methods=["GET", "POST"])
@require_role("admin")
def assign(pid):
    """Pick documents (all short of annotators, a filter, or a selection), annotators and k."""
    project = visible_project(current_user, pid)
    args = request.form if request.method == "POST" else request.args
    report, errors = None, None
    if request.method == "POST":
        scope = request.form.get("scope", "short")
        if scope == "selection":
            document_ids = [form_int(v, -1) for v in request.form.getlist("documents")]
            if not document_ids:
                errors = {"message": "Select at least one document.", "fields": {"documents": ["Nothing selected."]}}
        elif scope == "filter":
            document_ids = assignment_lists.matching_documents(project, **_filter(request.form))
            if not document_ids:
                errors = {"message": "The filter matches no document.", "fields": {}}
        else:
            document_ids = None
        if errors is None:
            try:
                report = assignments.assign_documents(
                    project, request.form.getlist("annotators"), form_int(request.form.get("per_document"), 0),
                    document_ids, dry_run=request.form.get("action") == "preview", actor=current_user)
            except AnnotatorError as error:
                errors = form_errors(error)
    page = max(form_int(request.args.get("page"), 1), 1)
    found = assignment_lists.document_page(project, **_filter(args), page=page, page_size=PAGE_SIZE)
    members_list = projects.list_members(project)
    chosen = set(request.form.getlist("annotators")) if request.method == "POST" else {
        u.username for u in members_list if u.active and u.role == "annotator"}
    status = 422 if errors else 200
    return render_template(
        "admin/assign.html", project=project, docs=found.documents, current=found.current, total=found.total,
        page=page, pages=max((found.total + PAGE_SIZE - 1) // PAGE_SIZE, 1), args=args, members=members_list,
        chosen=chosen, loads=assignments.open_loads(pid), report=report, errors=errors,
        filters={"pid": pid, **{k: args.get(k) for k in FILTERS if args.get(k)}},
        selected={form_int(v) for v in request.form.getlist("documents")}), status


def _is_admin_path(target) -> bool:
    return isinstance(target, str) and target.startswith("/admin/") and "//" not in target and "\\" not in target


def _back(pid):
    # Back to the page the form was on (an admin page only), else the project's assignment page.
    target = request.form.get("next_page")
    return redirect(target if _is_admin_path(target) else url_for("admin.assign", pid=pid))


@bp.post("/assignments/<int:aid>/delete")
@require_role("admin")
def unassign(aid):
    """Unassign; the annotations stay stored."""
    assignment = assignments.get_assignment(aid)
    pid = assignment.document.project_id
    assignments.unassign(aid, actor=current_user)
    flash(f"Unassigned {assignment.user.username} from document {assignment.document_id}; "
          "their annotations are kept.", "ok")
    return _back(pid)


@bp.post("/assignments/<int:aid>/reassign")
@require_role("admin")
def reassign(aid):
    """Move an assignment to another member."""
    assignment = assignments.get_assignment(aid)
    pid = assignment.document.project_id
    try:
        new = assignments.reassign(aid, request.form.get("annotator", ""), actor=current_user)
        flash(f"Document {new.document_id} moved to {request.form.get('annotator')}.", "ok")
    except AnnotatorError as error:
        flash(error_sentence(error), "error")
    return _back(pid)
