"""Pages: annotate."""

from flask import Blueprint

bp = Blueprint("annotate", __name__)
