"""Object-level access in one place: who may see which project and document.

Admins and reviewers see everything. Annotators see the projects they belong to and only the
documents assigned to them; anything else is :class:`NotFound`, exactly like a missing row, so
ids leak nothing (docs/security.md 6 B8, B9).
"""

from sqlalchemy import select

from annotator.errors import NotFound
from annotator.extensions import db
from annotator.models import Assignment
from annotator.models import Document
from annotator.models import Project
from annotator.models import ProjectMember


def sees_everything(user) -> bool:
    """Return whether ``user`` may read every project and document (admin, reviewer)."""
    return user.role in ("admin", "reviewer")


def visible_project(user, project_id: int) -> Project:
    """Return the project if ``user`` may see it.

    :raise NotFound: when it does not exist or the user is not a member.
    """
    project = db.session.get(Project, project_id)
    if project is None:
        raise NotFound("Project not found.")
    if not sees_everything(user) and db.session.get(ProjectMember, (project_id, user.id)) is None:
        raise NotFound("Project not found.")
    return project


def visible_document(user, document_id: int) -> Document:
    """Return the document if ``user`` may read it.

    :raise NotFound: when it does not exist or is not assigned to this annotator.
    """
    document = db.session.get(Document, document_id)
    if document is None:
        raise NotFound("Document not found.")
    if not sees_everything(user):
        # An annotator removed from the project loses its documents too, finished ones included.
        if (own_assignment(user, document_id) is None
                or db.session.get(ProjectMember, (document.project_id, user.id)) is None):
            raise NotFound("Document not found.")
    return document


def own_assignment(user, document_id: int) -> Assignment | None:
    """Return ``user``'s assignment to the document, if any."""
    return db.session.scalar(
        select(Assignment).where(Assignment.document_id == document_id, Assignment.user_id == user.id)
    )
