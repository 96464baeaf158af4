"""User management for admins."""

from flask_login import current_user
from flask_smorest import Blueprint

from annotator.schemas import UserIn
from annotator.schemas import UserOut
from annotator.schemas import UserPatch
from annotator.security import require_role
from annotator.services import users

blp = Blueprint("users_api", __name__, description="Users (admins only)")


@blp.route("/users", methods=["POST"])
@require_role("admin")
@blp.arguments(UserIn)
@blp.response(201, UserOut)
def create_user(data):
    """Create a user (there is no self-registration)."""
    return users.create_user(data["username"], data["password"], data["role"], actor=current_user)


@blp.route("/users", methods=["GET"])
@require_role("admin")
@blp.response(200, UserOut(many=True))
@blp.paginate()
def list_users(pagination_parameters):
    """List users, oldest first."""
    items, pagination_parameters.item_count = users.list_users(
        offset=pagination_parameters.first_item, limit=pagination_parameters.page_size)
    return items


@blp.route("/users/<username>", methods=["PATCH"])
@require_role("admin")
@blp.arguments(UserPatch)
@blp.response(200, UserOut)
def update_user(data, username):
    """Change a user's role, password or active flag; deactivation ends their sessions.

    An empty body is 422 ("Nothing to change."). Deactivating or demoting yourself, or the last
    active admin, is 409.
    """
    return users.update_user(username, actor=current_user, **data)


@blp.route("/users/<username>/unlock", methods=["POST"])
@require_role("admin")
@blp.response(204)
def unlock_user(username):
    """Forget the user's failed logins, so they may log in at once.

    The per-account login limit (``ANNOTATOR_LOGIN_LIMIT``) starts afresh; the per-address
    limit is not touched.
    """
    users.unlock_user(username, actor=current_user)
