"""API: annotations (see DESIGN.md section 5)."""

from flask_smorest import Blueprint

blp = Blueprint("annotations_api", __name__, description="Annotations")
