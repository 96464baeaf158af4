"""People and access: users, passwords, login sessions and API tokens.

Passwords are hashed with werkzeug's scrypt; session keys and API tokens are random and only
their SHA-256 is stored, so a copy of the database logs nobody in. Deactivating a user or
changing a password deletes all their sessions and tokens in the same transaction. Nobody
deactivates or demotes themselves and the last active admin stays one, whoever asks (API, page
or CLI), so there is always someone who can manage the service.
"""

import hashlib
import re
import secrets

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from annotator.choices import ROLES
from annotator.errors import Conflict
from annotator.errors import Invalid
from annotator.errors import NotFound
from annotator.extensions import db
from annotator.extensions import write_transaction
from annotator.login_limits import clear_login_failures
from annotator.models import ApiToken
from annotator.models import LoginSession
from annotator.models import User
from annotator.services import audit

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{1,63}$")
MIN_PASSWORD = 10
# Checked against when the username is unknown, so that both failures cost the same time and
# cannot be told apart (docs/security.md 6 A4). A fixed hash of a random, discarded password: hashing
# one at import would cost every worker 100 ms and 32 MiB of scrypt memory at start.
_DUMMY_HASH = (
    "scrypt:32768:8:1$8d7nKnT6NSZGsp3L$531bfaab0abcd05a19678686219a9a741a22c225e1ad758e79f0e17f"
    "4585707c36e244d9b44cb7e84b77e9aac6b9ad9143c06fb15ee9884af6aa2393474607a5"
)


def digest(secret: str) -> str:
    """Return the SHA-256 hex digest under which a session key or token is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def password_errors(password) -> list[str]:
    """Return what is wrong with a new password (empty when acceptable)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        return [f"Use at least {MIN_PASSWORD} characters."]
    if len(password) > 1024:
        return ["Use at most 1024 characters."]
    return []


def get_user(username: str) -> User:
    """Return the user named ``username``.

    :raise NotFound: when there is none.
    """
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    return user


def list_users(*, offset: int, limit: int) -> tuple[list[User], int]:
    """Return a page of users, oldest first, and how many there are (the API's list)."""
    total = db.session.scalar(select(func.count()).select_from(User))
    return db.session.scalars(select(User).order_by(User.id).offset(offset).limit(limit)).all(), total


def all_users() -> list[User]:
    """Return every user, by username (the people pages)."""
    return db.session.scalars(select(User).order_by(User.username)).all()


def usernames() -> list[str]:
    """Return every username, sorted (the pages' filters offer them)."""
    return db.session.scalars(select(User.username).order_by(User.username)).all()


def create_user(username: str, password: str, role: str = "annotator", actor=None) -> User:
    """Create a user with a hashed password and record it in the audit log.

    :raise Invalid: for a malformed username, a weak password or an unknown role.
    :raise Conflict: when the username is taken.
    """
    errors = {}
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        errors["username"] = ["Use 2-64 letters, digits, '.', '_' or '-'."]
    if problems := password_errors(password):
        errors["password"] = problems
    if role not in ROLES:
        errors["role"] = [f"Must be one of: {', '.join(ROLES)}."]
    if errors:
        raise Invalid("The user is not valid.", errors)
    password_hash = generate_password_hash(password)  # slow on purpose: outside the lock
    with write_transaction() as session:
        taken = session.scalar(
            select(User.id).where(func.lower(User.username) == username.lower())
        )
        if taken:
            raise Conflict(f"The username {username!r} is taken.",
                           {"username": ["Already taken."]})
        user = User(username=username, password_hash=password_hash, role=role)
        session.add(user)
        session.flush()
        audit.record("user.create", user, actor=actor, after={"username": username, "role": role})
    return user


def update_user(username: str, *, role=None, active=None, password=None, actor=None) -> User:
    """Change a user's role, active flag or password.

    Deactivation and a new password end every session and token of the user at once. Nobody
    deactivates or demotes themselves, and the last active admin stays one, so the service can
    never be left without an admin (:func:`_check_admins_remain`).

    :raise NotFound: when there is no such user.
    :raise Invalid: when nothing is to change, for an unknown role or a weak password.
    :raise Conflict: when ``actor`` would deactivate or demote themselves, or the last active
        admin would be deactivated or demoted.
    """
    if role is None and active is None and password is None:
        raise Invalid("Nothing to change.")
    if role is not None and role not in ROLES:
        raise Invalid("The change is not valid.", {"role": [f"Must be one of: {', '.join(ROLES)}."]})
    if password is not None and (problems := password_errors(password)):
        raise Invalid("The change is not valid.", {"password": problems})
    password_hash = generate_password_hash(password) if password is not None else None
    with write_transaction() as session:
        # The active admins are locked before the user and in id order, so concurrent changes
        # queue behind each other instead of deadlocking.
        admins = _lock_active_admins(session) if role is not None or active is False else []
        user = session.scalar(select(User).where(User.username == username)
                              .with_for_update().execution_options(populate_existing=True))
        if user is None:
            raise NotFound(f"No user named {username!r}.")
        _check_admins_remain(user, admins, role=role, active=active, actor=actor)
        before = {"role": user.role, "active": user.active}
        if role is not None:
            user.role = role
        if active is not None:
            user.active = active
        if password_hash is not None:
            user.password_hash = password_hash
        if password_hash is not None or active is False:
            # Sessions and tokens end by deleting their rows, on every worker at once.
            session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
            session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
        after = {"role": user.role, "active": user.active}
        if password_hash is not None:
            after["password_changed"] = True
        audit.record("user.update", user, actor=actor, before=before, after=after)
    return user


def _lock_active_admins(session) -> list[int]:
    """Return the ids of the active admins, locked until the transaction ends.

    PostgreSQL locks the rows (``FOR UPDATE``) and re-reads them after waiting, so two admins
    deactivating each other at once are serialised and the second sees the first's change;
    SQLite lets one writer in at a time anyway.
    """
    return list(session.scalars(select(User.id).where(User.role == "admin", User.active.is_(True))
                                .order_by(User.id).with_for_update()))


def _check_admins_remain(user: User, admins: list[int], *, role, active, actor) -> None:
    """Refuse a change that locks ``actor`` out or leaves no active admin.

    :param admins: the ids of the active admins, locked by :func:`_lock_active_admins`.
    :raise Conflict: for self-deactivation, self-demotion or losing the last active admin.
    """
    deactivates = active is False and user.active
    demotes = role is not None and role != user.role
    if actor is not None and actor.id == user.id:
        if deactivates:
            raise Conflict("You cannot deactivate yourself; ask another admin.",
                           {"active": ["You cannot deactivate yourself."]})
        if demotes:
            raise Conflict("You cannot change your own role; ask another admin.",
                           {"role": ["You cannot change your own role."]})
    if user.role == "admin" and user.active and (deactivates or demotes) and set(admins) <= {user.id}:
        field = "active" if deactivates else "role"
        raise Conflict(f"{user.username} is the last active admin; make another admin first.",
                       {field: ["The last active admin must stay an active admin."]})


def unlock_user(username: str, actor=None) -> User:
    """Clear the failed logins counted against ``username``, so they may log in at once.

    The per-account counter is cleared in the limiter's storage; the unlock is audited.

    :raise NotFound: when there is no such user.
    """
    with write_transaction():
        user = get_user(username)
        audit.record("user.unlock", user, actor=actor)
    clear_login_failures(user.username)
    return user


def authenticate(username, password) -> User | None:
    """Return the active user with these credentials, or None; both failures take equal time."""
    user = None
    if isinstance(username, str) and isinstance(password, str) and len(username) <= 64:
        user = db.session.scalar(select(User).where(User.username == username))
    hashed = user.password_hash if user is not None else _DUMMY_HASH
    ok = check_password_hash(hashed, password if isinstance(password, str) else "")
    if user is None or not ok or not user.active:
        return None
    return user


def start_session(user: User) -> str:
    """Create a login session for ``user`` and return its key (for the cookie)."""
    key = secrets.token_urlsafe(32)
    with write_transaction() as session:
        session.add(LoginSession(user_id=user.id, key_hash=digest(key)))
    return key


def end_session(key: str | None) -> None:
    """Delete the login session with this key, if any."""
    if not key:
        return
    with write_transaction() as session:
        session.execute(delete(LoginSession).where(LoginSession.key_hash == digest(key)))


def user_for_session(key: str | None) -> User | None:
    """Return the active user whose login session has this key."""
    if not key:
        return None
    login = db.session.scalar(select(LoginSession).where(LoginSession.key_hash == digest(key)))
    if login is None or not login.user.active:
        return None
    return login.user


def issue_token(user: User, name: str = "") -> str:
    """Create an API token for ``user`` and return it; only its hash is stored."""
    token = "ca_" + secrets.token_urlsafe(32)
    with write_transaction() as session:
        row = ApiToken(user_id=user.id, token_hash=digest(token), name=name[:100])
        session.add(row)
        session.flush()
        audit.record("token.create", row, actor=user, after={"name": row.name})
    return token


def user_for_token(token: str | None) -> User | None:
    """Return the active user owning this API token."""
    if not token:
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
    if row is None or not row.user.active:
        return None
    return row.user
