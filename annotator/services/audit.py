"""The audit log: one Event row per change, added to the caller's transaction."""

from annotator.extensions import db
from annotator.models import Event


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
