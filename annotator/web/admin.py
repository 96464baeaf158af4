"""Admin pages: projects and their schema, people, assignment, progress dashboards, audit log.

Thin views over the services. Every page is for admins, except the progress dashboards, which
reviewers see too. Form mistakes re-render the page with the errors next to the form; nothing
is stored then (the services check everything before they write).
"""

import json
import secrets
from datetime import datetime

from flask import Blueprint
from flask import Response
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from sqlalchemy import String
from sqlalchemy import cast
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from annotator.errors import AnnotatorError
from annotator.errors import Invalid
from annotator.errors import NotFound
from annotator.extensions import db
from annotator.models import ROLES
from annotator.models import Assignment
from annotator.models import Document
from annotator.models import Event
from annotator.models import Project
from annotator.models import ProjectMember
from annotator.models import User
from annotator.models import as_utc
from annotator.security import require_role
from annotator.services import assignments
from annotator.services import progress
from annotator.services import projects
from annotator.services import users
from annotator.services.schema import ATTRIBUTE_TYPES
from annotator.services.schema import HOTKEYS
from annotator.services.schema import OVERLAP_POLICIES
from annotator.validation import MAX_INT
from annotator.validation import MIN_INT

bp = Blueprint("admin", __name__)

PAGE_SIZE = 50
AUDIT_PAGE_SIZE = 100


def _int(value, default=None):
    # A number no column can hold (?page=99999999999999999999) is no number at all here.
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if MIN_INT <= number <= MAX_INT else default


def _project(pid: int) -> Project:
    project = db.session.get(Project, pid)
    if project is None:
        raise NotFound("Project not found.")
    return project


@bp.get("/")
@require_role("admin", "reviewer")
def index():
    """Send admins to the projects, reviewers to the dashboards."""
    return redirect(url_for("admin.projects" if current_user.role == "admin" else "admin.progress_overview"))


# ---------------------------------------------------------------------------------------------
# Projects


@bp.route("/projects", methods=["GET", "POST"], endpoint="projects")
@require_role("admin")
def projects_page():
    """List projects with their headline figures; create one (default conflict schema)."""
    errors, form = None, {}
    if request.method == "POST":
        form = request.form
        try:
            project = projects.create_project(
                form.get("name", ""), form.get("guidelines", ""),
                assignment={"mode": form.get("mode", "static"),
                            "per_document": _int(form.get("per_document"), 0),
                            "claim_timeout_minutes": _int(form.get("claim_timeout_minutes"), 0)},
                actor=current_user)
        except AnnotatorError as error:
            errors = {"message": error.message, "fields": error.errors or {}}
        else:
            flash(f"Project {project.name!r} created with the default conflict schema.", "ok")
            return redirect(url_for("admin.edit_project", pid=project.id))
    members = dict(db.session.execute(select(ProjectMember.project_id, func.count())
                                      .group_by(ProjectMember.project_id)).all())
    rows = progress.overview()
    status = 422 if errors else 200
    return render_template("admin/projects.html", rows=rows, members=members, errors=errors,
                           form=form), status


def _schema_from_form(raw: str):
    try:
        return json.loads(raw)
    except ValueError as error:
        where = f"line {error.lineno}, column {error.colno}"
        message = f"Not valid JSON: {error.msg} ({where})."
        raise Invalid("The schema is not valid JSON.", {"schema": [message]}) from None


@bp.route("/projects/<int:pid>", methods=["GET", "POST"])
@require_role("admin")
def edit_project(pid):
    """Edit a project's settings, guidelines and label schema (form editor or raw JSON)."""
    project = _project(pid)
    errors, form = None, None
    if request.method == "POST":
        form = request.form
        try:
            schema = _schema_from_form(form.get("schema", "")) if form.get("schema", "").strip() else None
            projects.update_project(
                project, name=form.get("name"), guidelines=form.get("guidelines"), schema=schema,
                assignment={"mode": form.get("mode", project.assignment_mode),
                            "per_document": _int(form.get("per_document"), 0),
                            "claim_timeout_minutes": _int(form.get("claim_timeout_minutes"), 0)},
                actor=current_user)
        except AnnotatorError as error:
            errors = {"message": error.message, "fields": error.errors or {}}
        else:
            flash("Saved.", "ok")
            return redirect(url_for("admin.edit_project", pid=pid))
    project = _project(pid)
    schema_text = form.get("schema") if form is not None and form.get("schema") else json.dumps(
        project.schema, indent=2, ensure_ascii=False)
    used = projects.find_schema_orphans(project.id, {"labels": [], "relations": []})
    return render_template(
        "admin/project_edit.html", project=project, errors=errors, form=form, schema_text=schema_text,
        editor={"attribute_types": list(ATTRIBUTE_TYPES), "hotkeys": list(HOTKEYS),
                "overlap_policies": list(OVERLAP_POLICIES)},
        in_use=used, guidelines_html=projects.render_guidelines(project.guidelines),
    ), (409 if errors and errors["message"].startswith("The new schema would orphan") else 422 if errors else 200)


@bp.route("/projects/<int:pid>/members", methods=["GET", "POST"])
@require_role("admin")
def members(pid):
    """Show and add project members."""
    project = _project(pid)
    if request.method == "POST":
        usernames = request.form.getlist("usernames")
        if usernames:
            try:
                projects.add_members(project, usernames, actor=current_user)
                flash(f"Added {', '.join(usernames)}.", "ok")
            except AnnotatorError as error:
                flash(error.message + " " + " ".join(m for ms in (error.errors or {}).values() for m in ms), "error")
        return redirect(url_for("admin.members", pid=pid))
    current = projects.list_members(project)
    ids = {u.id for u in current}
    others = [u for u in db.session.scalars(select(User).order_by(User.username)) if u.id not in ids]
    counts = dict(db.session.execute(
        select(Assignment.user_id, func.count()).join(Document, Document.id == Assignment.document_id)
        .where(Document.project_id == pid, Assignment.status.in_(assignments.OPEN_STATUSES))
        .group_by(Assignment.user_id)).all())
    return render_template("admin/members.html", project=project, members=current, others=others,
                           open_counts=counts)


@bp.post("/projects/<int:pid>/members/<username>/remove")
@require_role("admin")
def remove_member(pid, username):
    """Remove a member; their open work returns to the pool, their annotations stay."""
    project = _project(pid)
    released = projects.remove_member(project, username, actor=current_user)
    flash(f"Removed {username}; {released} open assignment(s) went back to the pool.", "ok")
    return redirect(url_for("admin.members", pid=pid))


# ---------------------------------------------------------------------------------------------
# Assignment


def _document_query(project: Project, args):
    """Return the documents matching the assignment page's filter (q, show, annotator)."""
    counts = (select(Assignment.document_id, func.count().label("n"))
              .group_by(Assignment.document_id).subquery())
    query = (select(Document.id).outerjoin(counts, counts.c.document_id == Document.id)
             .where(Document.project_id == project.id))
    show = args.get("show", "all")
    if show == "short":
        query = query.where(func.coalesce(counts.c.n, 0) < project.per_document)
    elif show == "unassigned":
        query = query.where(func.coalesce(counts.c.n, 0) == 0)
    q = (args.get("q") or "").strip()
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Document.external_id.ilike(pattern, escape="\\"),
                                Document.text.ilike(pattern, escape="\\"),
                                cast(Document.id, String) == q))
    who = (args.get("annotator") or "").strip()
    if who:
        query = query.where(Document.id.in_(
            select(Assignment.document_id).join(User, User.id == Assignment.user_id).where(User.username == who)))
    return query.order_by(Document.id)


@bp.route("/projects/<int:pid>/assign", methods=["GET", "POST"])
@require_role("admin")
def assign(pid):
    """Pick documents (all short of annotators, a filter, or a selection), annotators and k."""
    project = _project(pid)
    args = request.form if request.method == "POST" else request.args
    report, errors = None, None
    if request.method == "POST":
        scope = request.form.get("scope", "short")
        if scope == "selection":
            document_ids = [_int(v, -1) for v in request.form.getlist("documents")]
            if not document_ids:
                errors = {"message": "Select at least one document.", "fields": {"documents": ["Nothing selected."]}}
        elif scope == "filter":
            document_ids = list(db.session.scalars(_document_query(project, request.form)))
            if not document_ids:
                errors = {"message": "The filter matches no document.", "fields": {}}
        else:
            document_ids = None
        if errors is None:
            try:
                report = assignments.assign_documents(
                    project, request.form.getlist("annotators"), _int(request.form.get("per_document"), 0),
                    document_ids, dry_run=request.form.get("action") == "preview", actor=current_user)
            except AnnotatorError as error:
                errors = {"message": error.message, "fields": error.errors or {}}
    page = max(_int(request.args.get("page"), 1), 1)
    query = _document_query(project, args)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    ids = list(db.session.scalars(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    docs = db.session.execute(
        select(Document.id, Document.external_id, func.substr(Document.text, 1, 90))
        .where(Document.id.in_(ids)).order_by(Document.id)).all() if ids else []
    current = {}
    for assignment in db.session.scalars(select(Assignment).where(Assignment.document_id.in_(ids))
                                         .order_by(Assignment.id)) if ids else []:
        current.setdefault(assignment.document_id, []).append(assignment)
    members_list = projects.list_members(project)
    chosen = set(request.form.getlist("annotators")) if request.method == "POST" else {
        u.username for u in members_list if u.active and u.role == "annotator"}
    loads = dict(db.session.execute(
        select(Assignment.user_id, func.count()).join(Document, Document.id == Assignment.document_id)
        .where(Document.project_id == pid, Assignment.status.in_(assignments.OPEN_STATUSES))
        .group_by(Assignment.user_id)).all())
    status = 422 if errors else 200
    return render_template(
        "admin/assign.html", project=project, docs=docs, current=current, total=total, page=page,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1), args=args, members=members_list, chosen=chosen,
        loads=loads, report=report, errors=errors,
        filters={"pid": pid, **{k: args.get(k) for k in ("q", "show", "annotator") if args.get(k)}},
        selected={_int(v) for v in request.form.getlist("documents")}), status


@bp.post("/assignments/<int:aid>/delete")
@require_role("admin")
def unassign(aid):
    """Unassign; the annotations stay stored."""
    assignment = assignments.get_assignment(aid)
    pid = assignment.document.project_id
    assignments.unassign(aid, actor=current_user)
    flash(f"Unassigned {assignment.user.username} from document {assignment.document_id}; "
          "their annotations are kept.", "ok")
    return redirect(request.form.get("next_page") if _is_admin_path(request.form.get("next_page"))
                    else url_for("admin.assign", pid=pid))


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
        flash(" ".join([error.message, *(m for ms in (error.errors or {}).values() for m in ms)]), "error")
    return redirect(request.form.get("next_page") if _is_admin_path(request.form.get("next_page"))
                    else url_for("admin.assign", pid=pid))


def _is_admin_path(target) -> bool:
    return isinstance(target, str) and target.startswith("/admin/") and "//" not in target and "\\" not in target


# ---------------------------------------------------------------------------------------------
# Progress


@bp.get("/progress")
@require_role("admin", "reviewer")
def progress_overview():
    """Every project's completion, with links to the dashboards."""
    return render_template("admin/progress_overview.html", rows=progress.overview())


@bp.get("/projects/<int:pid>/progress")
@require_role("admin", "reviewer")
def progress_page(pid):
    """The project's dashboard: charts and tables, refreshed from the API every 15 seconds."""
    project = _project(pid)
    data = progress.project_progress(project)
    return render_template("admin/progress.html", project=project, data=data,
                           api_url=url_for("projects_api.get_progress", pid=pid))


@bp.get("/projects/<int:pid>/progress.csv")
@require_role("admin", "reviewer")
def progress_csv(pid):
    """Download the per-annotator figures as CSV."""
    project = _project(pid)
    return Response(progress.progress_csv(progress.project_progress(project)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="progress-{project.id}.csv"'})


# ---------------------------------------------------------------------------------------------
# People


def _memberships() -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for user_id, name in db.session.execute(
            select(ProjectMember.user_id, Project.name).join(Project, Project.id == ProjectMember.project_id)
            .order_by(Project.name)):
        found.setdefault(user_id, []).append(name)
    return found


@bp.route("/people", methods=["GET", "POST"])
@require_role("admin")
def people():
    """List users; create one (a password is generated when none is typed, shown once)."""
    errors, form, created = None, {}, None
    if request.method == "POST":
        form = request.form
        password = form.get("password") or secrets.token_urlsafe(12)
        try:
            user = users.create_user(form.get("username", "").strip(), password, form.get("role", "annotator"),
                                     actor=current_user)
            project_ids = [_int(v, -1) for v in form.getlist("projects")]
            if project_ids:
                projects.set_user_projects(user.username, project_ids, actor=current_user)
        except AnnotatorError as error:
            errors = {"message": error.message, "fields": error.errors or {}}
        else:
            created = {"username": user.username, "password": None if form.get("password") else password}
            form = {}
    everyone = db.session.scalars(select(User).order_by(User.username)).all()
    return render_template("admin/people.html", users=everyone, roles=ROLES, memberships=_memberships(),
                           projects=db.session.scalars(select(Project).order_by(Project.name)).all(),
                           errors=errors, form=form, created=created), (422 if errors else 200)


@bp.route("/people/<username>", methods=["GET", "POST"])
@require_role("admin")
def person(username):
    """Change a user's role, activate or deactivate, unlock, reset the password, set projects.

    The services refuse what would lock the admins out (409, shown next to the forms).
    """
    user = users.get_user(username)
    errors, new_password, status = None, None, 200
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "role":
                users.update_user(username, role=request.form.get("role"), actor=current_user)
                flash(f"{username} is now {request.form.get('role')}.", "ok")
            elif action in ("deactivate", "activate"):
                users.update_user(username, active=action == "activate", actor=current_user)
                flash(f"{username} is {action}d" + ("; their sessions and tokens have ended." if action == "deactivate"
                                                   else "."), "ok")
            elif action == "password":
                typed = request.form.get("password") or ""
                new_password = typed or secrets.token_urlsafe(12)
                users.update_user(username, password=new_password, actor=current_user)
                if typed:
                    new_password = None
                    flash(f"Password of {username} changed; their sessions and tokens have ended.", "ok")
            elif action == "unlock":
                users.unlock_user(username, actor=current_user)
                flash(f"{username} is unlocked: their failed logins are forgotten.", "ok")
            elif action == "projects":
                added, removed = projects.set_user_projects(
                    username, [_int(v, -1) for v in request.form.getlist("projects")], actor=current_user)
                flash(f"Projects saved: {added} joined, {removed} left.", "ok")
            else:
                raise Invalid("Unknown action.")
        except AnnotatorError as error:
            errors = {"message": error.message, "fields": error.errors or {}}
            status = error.code
        else:
            if new_password is None:
                return redirect(url_for("admin.person", username=username))
        user = users.get_user(username)
    member_of = set(db.session.scalars(select(ProjectMember.project_id).where(ProjectMember.user_id == user.id)))
    open_work = dict(db.session.execute(
        select(Document.project_id, func.count()).join(Assignment, Assignment.document_id == Document.id)
        .where(Assignment.user_id == user.id, Assignment.status.in_(assignments.OPEN_STATUSES))
        .group_by(Document.project_id)).all())
    return render_template("admin/person.html", user=user, roles=ROLES, member_of=member_of,
                           projects=db.session.scalars(select(Project).order_by(Project.name)).all(),
                           open_work=open_work, errors=errors, new_password=new_password), status


# ---------------------------------------------------------------------------------------------
# Audit log


def _parse_time(value):
    # The filter's times are UTC unless they name a zone (the page says so).
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except (ValueError, OverflowError):
        return "bad"


@bp.get("/audit")
@require_role("admin")
def audit_log():
    """The audit log, newest first, filtered by user (actor or subject), document, action and time."""
    args = request.args
    query = select(Event).order_by(Event.at.desc(), Event.id.desc())
    problems = []
    who = (args.get("user") or "").strip()
    if who:
        user = db.session.scalar(select(User).where(User.username == who))
        if user is None:
            problems.append(f"No user named {who!r}.")
        else:
            query = query.where(or_(Event.actor_id == user.id,
                                    (Event.object_type == "user") & (Event.object_id == str(user.id)),
                                    Event.object_id.in_(select(cast(Assignment.id, String))
                                                        .where(Assignment.user_id == user.id))
                                    & (Event.object_type == "assignment")))
    document = args.get("document", "").strip()
    if document:
        if _int(document) is None:
            problems.append("The document must be an id (a whole number).")
        else:
            query = query.where(Event.document_id == _int(document))
    project = args.get("project", "").strip()
    if project and _int(project) is not None:
        query = query.where(Event.project_id == _int(project))
    action = (args.get("action") or "").strip()
    if action:
        query = query.where(Event.action.startswith(action, autoescape=True))
    since, until = _parse_time(args.get("since")), _parse_time(args.get("until"))
    if "bad" in (since, until):
        problems.append("Times look like 2026-01-31T14:00.")
    else:
        if since is not None:
            query = query.where(Event.at >= since)
        if until is not None:
            query = query.where(Event.at <= until.replace(second=59, microsecond=999_999))
    page = max(_int(args.get("page"), 1), 1)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) if not problems else 0
    events = db.session.scalars(query.offset((page - 1) * AUDIT_PAGE_SIZE).limit(AUDIT_PAGE_SIZE)).all() \
        if not problems else []
    return render_template(
        "admin/audit.html", events=events, args=args, problems=problems, total=total, page=page,
        pages=max((total + AUDIT_PAGE_SIZE - 1) // AUDIT_PAGE_SIZE, 1),
        usernames=db.session.scalars(select(User.username).order_by(User.username)).all(),
        projects=db.session.scalars(select(Project).order_by(Project.name)).all(),
        actions=db.session.scalars(select(Event.action).distinct().order_by(Event.action)).all(),
    ), (422 if problems else 200)
