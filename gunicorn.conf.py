"""gunicorn settings; the values come from annotator.config (ANNOTATOR_* variables)."""

from annotator.config import gunicorn_settings

globals().update(gunicorn_settings())


def post_fork(server, worker):
    """Give each forked worker its own database connections, never the master's."""
    app = server.app.wsgi()
    if "sqlalchemy" in getattr(app, "extensions", {}):
        from annotator.extensions import db

        with app.app_context():
            db.engine.dispose(close=False)
