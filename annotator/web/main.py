"""The home page: my projects and my queue."""

from flask import Blueprint
from flask import render_template
from flask_login import current_user
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Project
from annotator.models import ProjectMember

bp = Blueprint("main", __name__)


@bp.get("/")
def home():
    """Show the projects the user belongs to (admins and reviewers see all)."""
    query = select(Project).order_by(Project.name)
    if current_user.role == "annotator":
        query = query.join(ProjectMember).where(ProjectMember.user_id == current_user.id)
    projects = db.session.scalars(query).all()
    return render_template("main/home.html", projects=projects)
