"""API: export (see DESIGN.md section 5)."""

from flask_smorest import Blueprint

blp = Blueprint("export_api", __name__, description="Export")
