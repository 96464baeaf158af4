"""Lists of assignments and documents to assign: the read side of assignment, for the API and pages.

Each list is one statement for its rows however many there are (documents and users come in
the same query), plus one for the count.
"""

from dataclasses import dataclass

from sqlalchemy import String
from sqlalchemy import cast
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from annotator.extensions import db
from annotator.models import Assignment
from annotator.models import Document
from annotator.models import Project
from annotator.models import User
from annotator.services.assignments import OPEN_STATUSES
from annotator.services.assignments import queue_query


def _page(query, offset: int, limit: int) -> tuple[list, int]:
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    return db.session.scalars(query.offset(offset).limit(limit)).all(), total


def list_queue(user, project_id: int | None = None, status: str | None = None, *, offset: int,
               limit: int) -> tuple[list[Assignment], int]:
    """Return a page of the user's queue (as :func:`queue_for` orders it) and its length."""
    return _page(queue_query(user, project_id, status), offset, limit)


def list_assignments(project_id: int, *, annotator: str | None = None, status: str | None = None,
                     document: int | None = None, offset: int, limit: int) -> tuple[list[Assignment], int]:
    """Return a page of the project's assignments, by document then annotator, and how many match."""
    # Documents (without their text) and users come in the same query, not one per row.
    query = (select(Assignment).join(Document, Document.id == Assignment.document_id)
             .join(User, User.id == Assignment.user_id)
             .options(contains_eager(Assignment.document).load_only(Document.id, Document.project_id),
                      contains_eager(Assignment.user))
             .where(Document.project_id == project_id).order_by(Assignment.document_id, User.username))
    if annotator is not None:
        query = query.where(User.username == annotator)
    if status is not None:
        query = query.where(Assignment.status == status)
    if document is not None:
        query = query.where(Assignment.document_id == document)
    return _page(query, offset, limit)


def open_work(user) -> dict[int, int]:
    """Return the user's number of open assignments per project, by project id."""
    return dict(db.session.execute(
        select(Document.project_id, func.count()).join(Assignment, Assignment.document_id == Document.id)
        .where(Assignment.user_id == user.id, Assignment.status.in_(OPEN_STATUSES))
        .group_by(Document.project_id)).all())


def annotator_names(project: Project) -> list[str]:
    """Return the usernames of everyone ever assigned in the project, sorted."""
    return db.session.scalars(
        select(User.username).join(Assignment, Assignment.user_id == User.id)
        .join(Document, Document.id == Assignment.document_id)
        .where(Document.project_id == project.id).distinct().order_by(User.username)).all()


def _document_query(project: Project, q: str = "", show: str = "all", annotator: str = ""):
    """Return the query of the documents matching the assignment page's filter, by id."""
    counts = (select(Assignment.document_id, func.count().label("n"))
              .group_by(Assignment.document_id).subquery())
    query = (select(Document.id).outerjoin(counts, counts.c.document_id == Document.id)
             .where(Document.project_id == project.id))
    if show == "short":
        query = query.where(func.coalesce(counts.c.n, 0) < project.per_document)
    elif show == "unassigned":
        query = query.where(func.coalesce(counts.c.n, 0) == 0)
    q = (q or "").strip()
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Document.external_id.ilike(pattern, escape="\\"),
                                Document.text.ilike(pattern, escape="\\"),
                                cast(Document.id, String) == q))
    who = (annotator or "").strip()
    if who:
        query = query.where(Document.id.in_(
            select(Assignment.document_id).join(User, User.id == Assignment.user_id).where(User.username == who)))
    return query.order_by(Document.id)


def matching_documents(project: Project, q: str = "", show: str = "all", annotator: str = "") -> list[int]:
    """Return the ids of the documents the assignment page's filter matches (``q``, ``show``, ``annotator``).

    ``show`` is ``short`` (fewer annotators than the project asks), ``unassigned`` or ``all``;
    ``q`` is a substring of the external id or text, or a document id; ``annotator`` a username.
    """
    return list(db.session.scalars(_document_query(project, q, show, annotator)))


@dataclass
class DocumentPage:
    """A page of the assignment page's documents: (id, external id, first 90 characters) rows
    and their assignments by document id."""

    total: int
    documents: list[tuple]
    current: dict[int, list[Assignment]]


def document_page(project: Project, *, q: str = "", show: str = "all", annotator: str = "", page: int = 1,
                  page_size: int = 50) -> DocumentPage:
    """Return one page of the documents :func:`matching_documents` finds, with their assignments."""
    query = _document_query(project, q, show, annotator)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    ids = list(db.session.scalars(query.offset((page - 1) * page_size).limit(page_size)))
    if not ids:
        return DocumentPage(total=total, documents=[], current={})
    documents = db.session.execute(
        select(Document.id, Document.external_id, func.substr(Document.text, 1, 90))
        .where(Document.id.in_(ids)).order_by(Document.id)).all()
    current: dict[int, list[Assignment]] = {}
    for assignment in db.session.scalars(select(Assignment).where(Assignment.document_id.in_(ids))
                                         .order_by(Assignment.id)):
        current.setdefault(assignment.document_id, []).append(assignment)
    return DocumentPage(total=total, documents=documents, current=current)
