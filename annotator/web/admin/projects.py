"""Admin pages: projects, their settings and label schema, and their members."""

import json

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from annotator.choices import ATTRIBUTE_TYPES
from annotator.choices import HOTKEYS
from annotator.choices import OVERLAP_POLICIES
from annotator.errors import AnnotatorError
from annotator.errors import Invalid
from annotator.errors import error_sentence
from annotator.errors import form_errors
from annotator.security import require_role
from annotator.services import assignments
from annotator.services import progress
from annotator.services import projects
from annotator.services import users
from annotator.services.access import visible_project
from annotator.web.admin import bp
from annotator.web.admin import form_int


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
                            "per_document": form_int(form.get("per_document"), 0),
                            "claim_timeout_minutes": form_int(form.get("claim_timeout_minutes"), 0)},
                actor=current_user)
        except AnnotatorError as error:
            errors = form_errors(error)
        else:
            flash(f"Project {project.name!r} created with the default conflict schema.", "ok")
            return redirect(url_for("admin.edit_project", pid=project.id))
    members = projects.member_counts()
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
    """Edit a project's settings, guidelines and label schema (form editor or raw JSON).

    A refused change answers with its error's own code: 409 for a schema that would orphan
    stored annotations or a name that is taken, 422 for anything invalid.
    """
    project = visible_project(current_user, pid)
    errors, form, status = None, None, 200
    if request.method == "POST":
        form = request.form
        try:
            schema = _schema_from_form(form.get("schema", "")) if form.get("schema", "").strip() else None
            projects.update_project(
                project, name=form.get("name"), guidelines=form.get("guidelines"), schema=schema,
                assignment={"mode": form.get("mode", project.assignment_mode),
                            "per_document": form_int(form.get("per_document"), 0),
                            "claim_timeout_minutes": form_int(form.get("claim_timeout_minutes"), 0)},
                actor=current_user)
        except AnnotatorError as error:
            errors, status = form_errors(error), error.code
        else:
            flash("Saved.", "ok")
            return redirect(url_for("admin.edit_project", pid=pid))
    project = visible_project(current_user, pid)
    schema_text = form.get("schema") if form is not None and form.get("schema") else json.dumps(
        project.schema, indent=2, ensure_ascii=False)
    used = projects.find_schema_orphans(project.id, {"labels": [], "relations": []})
    return render_template(
        "admin/project_edit.html", project=project, errors=errors, form=form, schema_text=schema_text,
        editor={"attribute_types": list(ATTRIBUTE_TYPES), "hotkeys": list(HOTKEYS),
                "overlap_policies": list(OVERLAP_POLICIES)},
        in_use=used, guidelines_html=projects.render_guidelines(project.guidelines),
    ), status


@bp.route("/projects/<int:pid>/members", methods=["GET", "POST"])
@require_role("admin")
def members(pid):
    """Show and add project members."""
    project = visible_project(current_user, pid)
    if request.method == "POST":
        usernames = request.form.getlist("usernames")
        if usernames:
            try:
                projects.add_members(project, usernames, actor=current_user)
                flash(f"Added {', '.join(usernames)}.", "ok")
            except AnnotatorError as error:
                flash(error_sentence(error), "error")
        return redirect(url_for("admin.members", pid=pid))
    current = projects.list_members(project)
    ids = {u.id for u in current}
    others = [u for u in users.all_users() if u.id not in ids]
    return render_template("admin/members.html", project=project, members=current, others=others,
                           open_counts=assignments.open_loads(pid))


@bp.post("/projects/<int:pid>/members/<username>/remove")
@require_role("admin")
def remove_member(pid, username):
    """Remove a member; their open work returns to the pool, their annotations stay."""
    project = visible_project(current_user, pid)
    released = projects.remove_member(project, username, actor=current_user)
    flash(f"Removed {username}; {released} open assignment(s) went back to the pool.", "ok")
    return redirect(url_for("admin.members", pid=pid))
