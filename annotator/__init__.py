"""Conflict Annotator: a span-annotation service for conflict reporting."""

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from annotator import config as config_module


def create_app(config=None) -> Flask:
    """Create and configure an instance of the application.

    :param config: a mapping that replaces the environment (tests pass their own); by default
        the ``ANNOTATOR_*`` variables are read by :mod:`annotator.config`.
    :raise InsecureConfig: when no strong secret key is configured.
    """
    root = config_module.project_root()
    app = Flask(
        __name__,
        instance_path=config_module.instance_dir(),
        template_folder=str(root / "templates"),
        static_folder=str(root / "static"),
    )
    settings = dict(config) if config is not None else config_module.from_env(app.instance_path)
    app.config.update(config_module.finalize(settings))
    if app.config.get("TRUSTED_PROXIES"):
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from annotator import extensions

    extensions.db.init_app(app)
    extensions.migrate.init_app(app, extensions.db, directory=str(root / "migrations"))
    extensions.csrf.init_app(app)
    extensions.limiter.init_app(app)
    extensions.login_manager.init_app(app)
    extensions.api.init_app(app)

    from annotator import models  # noqa: F401  (Alembic sees every table)
    from annotator import security
    from annotator import validation

    security.init_app(app)
    validation.init_app(app)

    from annotator import api
    from annotator import web

    api.register(app)
    web.register(app)

    from annotator import errors

    errors.register_error_handlers(app)

    from annotator import cli

    cli.register(app)
    return app
