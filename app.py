"""The WSGI entry point for gunicorn and ``flask --app app``."""

from annotator import create_app

app = create_app()
