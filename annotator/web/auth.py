"""Login and logout pages."""

from flask import Blueprint
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_limiter import RateLimitExceeded

from annotator.errors import retry_after_seconds
from annotator.errors import wait_message
from annotator.login_limits import rate_limited
from annotator.security import is_safe_next
from annotator.services import users

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@rate_limited
def login():
    """Show the login form; on valid credentials start a new session and go on.

    The session is cleared before the login is stored, so a cookie planted before login is
    never authenticated (session fixation). ``next`` is followed only when it is a path on
    this site.
    """
    next_url = request.values.get("next", "")
    if request.method == "POST":
        user = users.authenticate(request.form.get("username"), request.form.get("password"))
        if user is not None:
            key = users.start_session(user)
            session.clear()
            session["sid"] = key
            return redirect(next_url if is_safe_next(next_url) else url_for("main.home"))
        page = render_template("auth/login.html", error="Wrong username or password.",
                               next_url=next_url, username=request.form.get("username", ""))
        return page, 401
    return render_template("auth/login.html", next_url=next_url, username="")


@bp.errorhandler(RateLimitExceeded)
def too_many_attempts(error):
    """Show the login form again with the wait in minutes (the header carries the seconds)."""
    seconds = retry_after_seconds()
    page = render_template("auth/login.html", error=wait_message(seconds),
                           next_url=request.values.get("next", ""),
                           username=request.form.get("username", ""))
    return page, 429, {"Retry-After": str(seconds)}


@bp.route("/logout", methods=["POST"])
def logout():
    """End this login session everywhere (the copied cookie stops working too)."""
    users.end_session(session.get("sid"))
    session.clear()
    return redirect(url_for("auth.login"))
