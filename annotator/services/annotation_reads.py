"""Reading annotations: one annotator's spans, relations, status and version on a document.

The write path (:mod:`annotator.services.annotations`) answers with the same forms.
"""

from sqlalchemy import select

from annotator.errors import NotFound
from annotator.extensions import db
from annotator.models import AnnotationSet
from annotator.models import Relation
from annotator.models import Span
from annotator.models import User
from annotator.services.access import own_assignment
from annotator.services.access import sees_everything
from annotator.services.access import visible_document


def span_dict(span: Span, text: str) -> dict:
    """Return the API form of a span (``id`` is the client's uuid)."""
    return {"id": span.uuid, "start": span.start, "end": span.end, "label": span.label,
            "attrs": dict(span.attrs or {}), "text": text[span.start:span.end]}


def relation_dict(relation: Relation) -> dict:
    """Return the API form of a relation; its ends are span ids."""
    return {"id": relation.uuid, "head": relation.head.uuid, "tail": relation.tail.uuid,
            "label": relation.label, "attrs": dict(relation.attrs or {})}


def set_for(document_id: int, user_id: int) -> AnnotationSet | None:
    """Return the manual annotation set of ``user_id`` on a document, or None before any change."""
    return db.session.scalar(select(AnnotationSet).where(
        AnnotationSet.document_id == document_id, AnnotationSet.user_id == user_id,
        AnnotationSet.kind == "manual"))


def get_annotations(user, document_id: int, annotator: str | None = None) -> dict:
    """Return one annotator's spans, relations, status and version on a document.

    Annotators read their own work only; admins and reviewers may name any annotator (by
    default their own set).

    :raise NotFound: when the document is not visible to ``user``, or names an annotator the
        user may not read or who has no work on it.
    """
    document = visible_document(user, document_id)
    owner = user
    if annotator is not None and annotator != user.username:
        if not sees_everything(user):
            raise NotFound("Document not found.")
        owner = db.session.scalar(select(User).where(User.username == annotator))
        if owner is None:
            raise NotFound("No such annotator on this document.")
    assignment = own_assignment(owner, document_id)
    annotation_set = set_for(document_id, owner.id)
    if owner is not user and assignment is None and annotation_set is None:
        raise NotFound("No such annotator on this document.")
    spans = annotation_set.spans if annotation_set else []
    relations = annotation_set.relations if annotation_set else []
    return {
        "document_id": document.id,
        "annotator": owner.username,
        "status": assignment.status if assignment else None,
        "version": annotation_set.version if annotation_set else 0,
        "spans": [span_dict(s, document.text) for s in spans],
        "relations": [relation_dict(r) for r in relations],
    }
