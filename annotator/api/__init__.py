"""The JSON API under /api/v1 (flask-smorest blueprints, OpenAPI at /api/v1/openapi.json)."""

import flask_smorest
from flask import Blueprint
from flask import jsonify
from flask_smorest import pagination
from marshmallow import fields
from marshmallow import validate
from sqlalchemy import text

from annotator.api.bodies import BodyParser
from annotator.extensions import api
from annotator.extensions import db
from annotator.validation import MAX_PAGE

_smorest_parameters_schema = pagination._pagination_parameters_schema_factory


def _bounded_parameters_schema(def_page, def_page_size, def_max_page_size):
    """Return flask-smorest's pagination schema with ``page`` bounded by MAX_PAGE.

    Its own has no upper bound, and ``?page=9223372036854775807`` overflowed the SQL OFFSET
    (a 500); now it is a 422 naming ``page``, and the OpenAPI document says the maximum.
    """
    base = _smorest_parameters_schema(def_page, def_page_size, def_max_page_size)

    class BoundedPaginationParametersSchema(base):
        page = fields.Integer(load_default=def_page, validate=validate.Range(min=1, max=MAX_PAGE))

    return BoundedPaginationParametersSchema


# flask-smorest builds the schema of every @blp.paginate() with this module-level factory.
pagination._pagination_parameters_schema_factory = _bounded_parameters_schema
# Every @blp.arguments reads bodies with BodyParser (415 for a body that is not JSON, strict
# JSON). Set before the API modules are imported: the decorator binds the parser it finds.
flask_smorest.Blueprint.ARGUMENTS_PARSER = BodyParser()

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
    from annotator.api.openapi import install
    from annotator.security import PUBLIC_ENDPOINTS

    app.register_blueprint(health)
    # Before the blueprints: the plugin completes each operation as it is registered.
    install(app, api, PUBLIC_ENDPOINTS)
    for blueprint in (auth.blp, users.blp, projects.blp, documents.blp, assignments.blp,
                      annotations.blp, export.blp):
        api.register_blueprint(blueprint, url_prefix="/api/v1")
