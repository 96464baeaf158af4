"""The JSON API under /api/v1 (flask-smorest blueprints, OpenAPI at /api/v1/openapi.json)."""

from flask import Blueprint
from flask import jsonify
from sqlalchemy import text

from annotator.extensions import api
from annotator.extensions import db

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz():
    """Answer 200 when the database answers (503 otherwise, from the error handler)."""
    db.session.execute(text("SELECT 1"))
    return jsonify(status="ok")


def register(app):
    """Register every API blueprint with the app's Api object."""
    from annotator.api import annotations
    from annotator.api import assignments
    from annotator.api import auth
    from annotator.api import documents
    from annotator.api import export
    from annotator.api import projects
    from annotator.api import users

    app.register_blueprint(health)
    for blueprint in (auth.blp, users.blp, projects.blp, documents.blp, assignments.blp,
                      annotations.blp, export.blp):
        api.register_blueprint(blueprint, url_prefix="/api/v1")
