"""API: projects (see DESIGN.md section 5)."""

from flask_smorest import Blueprint

blp = Blueprint("projects_api", __name__, description="Projects")
