"""HTML pages: thin views over the services, one blueprint per audience."""


def register(app):
    """Register the page blueprints."""
    from annotator.web import admin
    from annotator.web import annotate
    from annotator.web import auth
    from annotator.web import exports
    from annotator.web import imports
    from annotator.web import main

    app.register_blueprint(auth.bp)
    app.register_blueprint(main.bp)
    app.register_blueprint(annotate.bp)
    app.register_blueprint(admin.bp, url_prefix="/admin")
    app.register_blueprint(imports.bp, url_prefix="/admin")
    app.register_blueprint(exports.bp, url_prefix="/admin")
