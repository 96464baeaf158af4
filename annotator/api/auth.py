"""API authentication: issue a bearer token, tell who is asking."""

from flask_login import current_user
from flask_smorest import Blueprint

from annotator.errors import AnnotatorError
from annotator.login_limits import rate_limited
from annotator.schemas import MeOut
from annotator.schemas import TokenIn
from annotator.schemas import TokenOut
from annotator.services import users

blp = Blueprint("auth_api", __name__, description="Authentication")


class BadCredentials(AnnotatorError):
    code = 401


@blp.route("/auth/token", methods=["POST"])
@rate_limited
@blp.arguments(TokenIn)
@blp.response(201, TokenOut)
def create_token(data):
    """Exchange a username and password for a bearer token.

    Failed attempts are limited per account and per address (429 with Retry-After).
    """
    user = users.authenticate(data["username"], data["password"])
    if user is None:
        raise BadCredentials("Wrong username or password.")
    return {"token": users.issue_token(user, data["name"])}


@blp.route("/me", methods=["GET"])
@blp.response(200, MeOut)
def get_me():
    """Return the user making the request."""
    return current_user
