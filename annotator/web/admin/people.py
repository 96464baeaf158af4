"""Admin pages: people (create users) and a person (role, activation, password, projects)."""

import secrets

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from annotator.choices import ROLES
from annotator.errors import AnnotatorError
from annotator.errors import Invalid
from annotator.errors import form_errors
from annotator.security import require_role
from annotator.services import assignment_lists
from annotator.services import projects
from annotator.services import users
from annotator.web.admin import bp
from annotator.web.admin import form_int


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
            project_ids = [form_int(v, -1) for v in form.getlist("projects")]
            if project_ids:
                projects.set_user_projects(user.username, project_ids, actor=current_user)
        except AnnotatorError as error:
            errors = form_errors(error)
        else:
            created = {"username": user.username, "password": None if form.get("password") else password}
            form = {}
    everyone = users.all_users()
    return render_template("admin/people.html", users=everyone, roles=ROLES, memberships=projects.memberships(),
                           projects=projects.all_projects(), errors=errors, form=form,
                           created=created), (422 if errors else 200)


def _change(username: str, action: str | None) -> str | None:
    """Apply the person page's ``action`` to the user; return the generated password, if any.

    :raise AnnotatorError: what the services refuse (409 for locking the admins out).
    """
    new_password = None
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
            username, [form_int(v, -1) for v in request.form.getlist("projects")], actor=current_user)
        flash(f"Projects saved: {added} joined, {removed} left.", "ok")
    else:
        raise Invalid("Unknown action.")
    return new_password


@bp.route("/people/<username>", methods=["GET", "POST"])
@require_role("admin")
def person(username):
    """Change a user's role, activate or deactivate, unlock, reset the password, set projects.

    The services refuse what would lock the admins out (409, shown next to the forms).
    """
    user = users.get_user(username)
    errors, new_password, status = None, None, 200
    if request.method == "POST":
        try:
            new_password = _change(username, request.form.get("action"))
        except AnnotatorError as error:
            errors, status = form_errors(error), error.code
        else:
            if new_password is None:
                return redirect(url_for("admin.person", username=username))
        user = users.get_user(username)
    return render_template("admin/person.html", user=user, roles=ROLES, member_of=projects.project_ids_of(user),
                           projects=projects.all_projects(), open_work=assignment_lists.open_work(user),
                           errors=errors, new_password=new_password), status
