"""The audit log: one Event row per change, added to the caller's transaction; and its search."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String
from sqlalchemy import cast
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Assignment
from annotator.models import Event
from annotator.models import User
from annotator.models import as_utc
from annotator.validation import MAX_INT
from annotator.validation import MIN_INT


def record(action: str, obj, *, actor=None, before=None, after=None, project_id=None,
           document_id=None) -> Event:
    """Add an audit event for ``obj`` to the current transaction (the caller commits).

    :param action: what happened, ``<object>.<verb>`` (``span.create``, ``user.deactivate``).
    :param obj: the changed row; its table name and id (or uuid) identify it.
    """
    object_id = getattr(obj, "uuid", None) or getattr(obj, "id", None)
    event = Event(
        action=action,
        object_type=obj.__tablename__,
        object_id=None if object_id is None else str(object_id),
        actor_id=getattr(actor, "id", None),
        before=before,
        after=after,
        project_id=project_id,
        document_id=document_id,
    )
    db.session.add(event)
    return event


@dataclass
class AuditPage:
    """One page of the audit log search: the events, how many match, and what was wrong with the filter."""

    events: list[Event]
    total: int
    problems: list[str]
    # The user filtered by: kept in the session while the page renders, so their events'
    # actor and subject need no further query.
    user: User | None = None


def _number(value):
    # A number no column can hold (?document=99999999999999999999) is no number at all here.
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if MIN_INT <= number <= MAX_INT else None


def _parse_time(value):
    # The filter's times are UTC unless they name a zone (the page says so).
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except (ValueError, OverflowError):
        return "bad"


def search(*, user: str = "", document: str = "", project: str = "", action: str = "", since: str = "",
           until: str = "", page: int = 1, page_size: int = 100) -> AuditPage:
    """Return a page of the audit log, newest first, filtered as the audit page's form asks.

    Filters are the form's raw text: ``user`` matches the actor or the subject (the user
    itself, or one of their assignments), ``document`` an id, ``project`` an id (ignored when it
    is none), ``action`` a prefix, ``since`` and ``until`` ISO times (UTC unless they name a
    zone; ``until`` includes its whole minute). A filter that cannot match (an unknown user, a
    bad id or time) is named in ``problems`` and nothing is searched.
    """
    query = select(Event).order_by(Event.at.desc(), Event.id.desc())
    problems, found = [], None
    who = (user or "").strip()
    if who:
        found = db.session.scalar(select(User).where(User.username == who))
        if found is None:
            problems.append(f"No user named {who!r}.")
        else:
            query = query.where(or_(Event.actor_id == found.id,
                                    (Event.object_type == "user") & (Event.object_id == str(found.id)),
                                    Event.object_id.in_(select(cast(Assignment.id, String))
                                                        .where(Assignment.user_id == found.id))
                                    & (Event.object_type == "assignment")))
    document = (document or "").strip()
    if document:
        if _number(document) is None:
            problems.append("The document must be an id (a whole number).")
        else:
            query = query.where(Event.document_id == _number(document))
    project = (project or "").strip()
    if project and _number(project) is not None:
        query = query.where(Event.project_id == _number(project))
    action = (action or "").strip()
    if action:
        query = query.where(Event.action.startswith(action, autoescape=True))
    since, until = _parse_time(since), _parse_time(until)
    if "bad" in (since, until):
        problems.append("Times look like 2026-01-31T14:00.")
    else:
        if since is not None:
            query = query.where(Event.at >= since)
        if until is not None:
            query = query.where(Event.at <= until.replace(second=59, microsecond=999_999))
    if problems:
        return AuditPage(events=[], total=0, problems=problems, user=found)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    events = db.session.scalars(query.offset((page - 1) * page_size).limit(page_size)).all()
    return AuditPage(events=events, total=total, problems=problems, user=found)


def actions() -> list[str]:
    """Return every action the log holds, sorted (the audit page's filter offers them)."""
    return db.session.scalars(select(Event.action).distinct().order_by(Event.action)).all()
