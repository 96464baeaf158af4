"""API: assignments (see DESIGN.md section 5)."""

from flask_smorest import Blueprint

blp = Blueprint("assignments_api", __name__, description="Assignments")
