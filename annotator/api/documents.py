"""API: documents (see DESIGN.md section 5)."""

from flask_smorest import Blueprint

blp = Blueprint("documents_api", __name__, description="Documents")
