"""HTML pages: thin views over the services, one blueprint per audience."""


def register(app):
    """Register the page blueprints."""
    from annotator.web import auth
    from annotator.web import main

    app.register_blueprint(auth.bp)
    app.register_blueprint(main.bp)
