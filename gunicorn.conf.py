"""gunicorn settings; the values come from annotator.config (ANNOTATOR_* variables)."""

from annotator.config import gunicorn_settings

globals().update(gunicorn_settings())
