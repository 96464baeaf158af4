"""Documents out: one page of a project's documents, filtered and searched.

The import side (records in, checked, stored) is :mod:`annotator.services.importing`.
"""

from sqlalchemy import Text
from sqlalchemy import cast
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import select

from annotator.choices import ASSIGNMENT_STATUSES
from annotator.extensions import db
from annotator.models import Assignment
from annotator.models import Document
from annotator.models import Project
from annotator.models import User

LIST_STATUSES = ASSIGNMENT_STATUSES + ("unassigned",)


def list_documents(project: Project, *, status: str | None = None, annotator: str | None = None,
                   q: str | None = None, offset: int = 0, limit: int = 50) -> tuple[list[dict], int]:
    """Return one page of the project's documents (without their text) and the total count.

    :param status: documents with an assignment in this status (of ``annotator`` when given),
        or ``unassigned`` for documents nobody has.
    :param annotator: documents assigned to this username.
    :param q: words to find in the text or the metadata (case-insensitive, taken literally).
    """
    conditions = [Document.project_id == project.id]
    if annotator is not None or status not in (None, "unassigned"):
        match = [Assignment.document_id == Document.id]
        if annotator is not None:
            match.append(Assignment.user_id == select(User.id).where(User.username == annotator).scalar_subquery())
        if status not in (None, "unassigned"):
            match.append(Assignment.status == status)
        conditions.append(exists(select(Assignment.id).where(*match)))
    if status == "unassigned":
        conditions.append(~exists(select(Assignment.id).where(Assignment.document_id == Document.id)))
    if q:
        conditions.append(_search(q))
    total = db.session.scalar(select(func.count(Document.id)).where(*conditions))
    rows = db.session.execute(
        select(Document.id, Document.external_id, Document.text_sha256, Document.lang, Document.meta,
               Document.created_at, func.length(Document.text).label("chars"),
               func.substr(Document.text, 1, 160).label("snippet"))
        .where(*conditions).order_by(Document.id).offset(offset).limit(limit)).all()
    items = [dict(row._mapping) for row in rows]
    by_id = {item["id"]: item for item in items}
    for item in items:
        item["assignments"] = []
    if by_id:
        for document_id, username, assignment_status in db.session.execute(
                select(Assignment.document_id, User.username, Assignment.status).join(User)
                .where(Assignment.document_id.in_(by_id)).order_by(User.username)):
            by_id[document_id]["assignments"].append({"annotator": username, "status": assignment_status})
    return items, total


def _search(q: str):
    """Match ``q`` in the text or any metadata value, case-insensitively and literally."""
    needle = q.lower()
    in_text = func.lower(Document.text).contains(needle, autoescape=True)
    if db.engine.dialect.name == "postgresql":
        in_meta = func.lower(cast(Document.meta, Text)).contains(needle, autoescape=True)
    else:
        # SQLite stores JSON with non-ASCII escaped; json_tree yields the decoded values.
        tree = func.json_tree(Document.meta).table_valued("atom")
        in_meta = exists(select(1).select_from(tree).where(
            func.lower(cast(tree.c.atom, Text)).contains(needle, autoescape=True)))
    return in_text | in_meta
