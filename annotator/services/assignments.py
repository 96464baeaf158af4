"""Assignments: who works on which document, and each annotator's queue.

(Balanced k-per-document planning, dynamic claims and unassignment: issue 5.)
"""

from sqlalchemy import case
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Assignment
from annotator.models import Document

# Queue order: work in progress first, then new work; finished work last.
STATUS_ORDER = case(
    {"in_progress": 0, "assigned": 1, "skipped": 2, "submitted": 3}, value=Assignment.status
)


def queue_for(user, project_id: int | None = None, status: str | None = None):
    """Return the user's assignments (with their documents), open work first."""
    query = (
        select(Assignment)
        .join(Document, Document.id == Assignment.document_id)
        .where(Assignment.user_id == user.id)
        .order_by(STATUS_ORDER, Assignment.id)
    )
    if project_id is not None:
        query = query.where(Document.project_id == project_id)
    if status is not None:
        query = query.where(Assignment.status == status)
    return db.session.scalars(query).all()


def next_for(user, project) -> Document | None:
    """Return the next document for ``user`` in ``project``: in progress, else assigned."""
    assignment = db.session.scalar(
        select(Assignment)
        .join(Document, Document.id == Assignment.document_id)
        .where(Assignment.user_id == user.id, Document.project_id == project.id,
               Assignment.status.in_(("in_progress", "assigned")))
        .order_by(STATUS_ORDER, Assignment.id)
        .limit(1)
    )
    return assignment.document if assignment is not None else None
