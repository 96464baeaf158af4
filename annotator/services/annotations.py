"""Spans and relations: the write path, versions, idempotency.

Offsets are code points into the stored text, end-exclusive (docs/design.md section 4). The label
schema's rules (labels, attributes, relation types, the overlap policy, the boundary rule) are
:mod:`annotator.services.label_schema`'s; every write path checks spans with them, so no path
can store a span the others would refuse.

The write services below own one annotator's annotation set on one document. Each runs in one
transaction that also

- bumps ``AnnotationSet.version`` (optimistic concurrency: a write may name the version it
  was made against, ``if_match``, and a stale one is refused with 412);
- moves the assignment along (``assigned`` -> ``in_progress`` on the first change, and the
  timestamps); a submitted or skipped document refuses changes (409) until it is reopened;
- writes an audit event.

Creates are idempotent on the client's id: a replay of the same body returns the stored
object, a different body under the same id is a 409. A write that changes nothing (a retried
PATCH, a status that is already set) answers with the current state and no new version, so
a client that lost a response can retry safely.
"""

import uuid as uuidlib

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer

from annotator.errors import Conflict
from annotator.errors import Invalid
from annotator.errors import NotFound
from annotator.errors import PreconditionFailed
from annotator.errors import PreconditionRequired
from annotator.extensions import write_transaction
from annotator.models import AnnotationSet
from annotator.models import Assignment
from annotator.models import Document
from annotator.models import Project
from annotator.models import ProjectMember
from annotator.models import Relation
from annotator.models import Span
from annotator.models import now_utc
from annotator.services import audit
from annotator.services.annotation_reads import get_annotations  # noqa: F401  (the API and pages call it here)
from annotator.services.annotation_reads import relation_dict
from annotator.services.annotation_reads import set_for
from annotator.services.annotation_reads import span_dict
from annotator.services.counts import prefill_counts
from annotator.services.label_schema import LabelSchema
from annotator.services.label_schema import PlannedSpan
from annotator.services.label_schema import label_schema

STATUSES = ("in_progress", "submitted", "skipped")
# Statuses in which the set is closed to changes until the annotator reopens it.
CLOSED = ("submitted", "skipped")


# --- the write context -----------------------------------------------------------------------

class _Work:
    """The locked rows one write works on: document, assignment, annotation set."""

    def __init__(self, session, user, document, assignment, annotation_set):
        self.session, self.user = session, user
        self.document, self.assignment, self.set = document, assignment, annotation_set
        self.rules: LabelSchema = label_schema(document.project.schema)

    def span(self, span_id: str) -> Span:
        """Return the span with this client id in the set.

        :raise NotFound: when the set has none.
        """
        for span in self.set.spans:
            if span.uuid == span_id:
                return span
        raise NotFound("Span not found.", {"id": [f"No span {span_id!r} in your annotations."]})

    def relation(self, relation_id: str) -> Relation:
        for relation in self.set.relations:
            if relation.uuid == relation_id:
                return relation
        raise NotFound("Relation not found.",
                       {"id": [f"No relation {relation_id!r} in your annotations."]})

    def check_open(self):
        """Refuse changes to a submitted or skipped document.

        :raise Conflict: until the annotator reopens it.
        """
        if self.assignment.status in CLOSED:
            raise Conflict(f"This document is {self.assignment.status}; reopen it to make changes.",
                           {"status": [f"The document is {self.assignment.status}."]})

    def check_version(self, if_match):
        """Refuse a write made against another version of the set.

        :raise PreconditionFailed: when ``if_match`` is given and is not the current version.
        """
        if if_match is not None and if_match != self.set.version:
            raise PreconditionFailed(
                f"Your annotations changed elsewhere (version {self.set.version}, not {if_match}); "
                "reload to see the latest.",
                {"If-Match": [f"The current version is {self.set.version}."]},
                headers={"ETag": f'"{self.set.version}"'})

    def touch(self, action: str, obj, before=None, after=None):
        """Record one change: bump the version, move the assignment along, audit it."""
        self.set.version += 1
        self.set.updated_at = now_utc()
        now = now_utc()
        if self.assignment.status == "assigned":
            self.assignment.status = "in_progress"
        if self.assignment.started_at is None:
            self.assignment.started_at = now
        self.assignment.updated_at = now
        audit.record(action, obj, actor=self.user, before=before, after=after,
                     project_id=self.document.project_id, document_id=self.document.id)


def _open_work(session, user, document_id: int) -> _Work:
    """Lock the user's assignment and annotation set on the document (creating the set).

    :raise NotFound: when the document is not assigned to ``user``, exactly like a missing one.
    """
    # One statement finds the document, my assignment to it, its project and my membership
    # (the rules of access.visible_document for an owner), and locks the assignment row: the
    # lock that serialises every write of this user on this document on PostgreSQL (SQLite's
    # BEGIN IMMEDIATE serialises all writes anyway). The tokens are not needed to write.
    row = session.execute(
        select(Document, Assignment, Project)
        .join(Assignment, (Assignment.document_id == Document.id) & (Assignment.user_id == user.id))
        .join(Project, Project.id == Document.project_id)
        .join(ProjectMember, (ProjectMember.project_id == Document.project_id)
              & (ProjectMember.user_id == user.id))
        .where(Document.id == document_id)
        .options(defer(Document.tokens))
        .with_for_update(of=Assignment)
    ).first()
    if row is None:
        raise NotFound("Document not found.")
    document, assignment, _project = row
    annotation_set = session.scalar(
        select(AnnotationSet).where(AnnotationSet.document_id == document_id,
                                    AnnotationSet.user_id == user.id, AnnotationSet.kind == "manual")
        .with_for_update())
    if annotation_set is None:
        annotation_set = AnnotationSet(document_id=document_id, user_id=user.id, kind="manual",
                                       version=0)
        try:
            with session.begin_nested():
                session.add(annotation_set)
        except IntegrityError:  # made meanwhile by an import under this user: use that one
            annotation_set = set_for(document_id, user.id)
    return _Work(session, user, document, assignment, annotation_set)


def _raise_if(errors: dict, message="The span is not valid."):
    if errors:
        raise Invalid(message, errors)


def _new_id(value) -> str:
    return value if value is not None else str(uuidlib.uuid4())


def _result(work: _Work, **extra) -> dict:
    return {"version": work.set.version, **extra}


# --- spans -----------------------------------------------------------------------------------

def create_span(user, document_id: int, data: dict, if_match: int | None = None) -> dict:
    """Add a span to the user's annotations and return it with the set's new version.

    ``data`` is ``{id?, start, end, label, attrs?, text?}``; ``id`` is the client's uuid. A
    CASUALTY_CLAIM created without its count attributes gets them pre-filled from its text
    (:func:`annotator.services.counts.parse_count`) for the annotator to confirm.

    :raise NotFound: when the document is not assigned to ``user``.
    :raise Invalid: for bad offsets, a text mismatch, an unknown label or attribute, or a
        span the overlap policy refuses.
    :raise Conflict: when the id is taken by a different span, or the document is closed.
    :raise PreconditionFailed: when ``if_match`` is stale.
    """
    with write_transaction() as session:
        work = _open_work(session, user, document_id)
        start, end, label = data["start"], data["end"], data["label"]
        attrs = data.get("attrs") or {}
        _raise_if(work.rules.span_problems(work.document.text, start, end, label, attrs, data.get("text")))
        attrs = prefill_counts(work.rules.labels[label], attrs, work.document.text[start:end])
        span_id = data.get("id")
        if span_id is not None:
            existing = next((s for s in work.set.spans if s.uuid == span_id), None)
            if existing is not None:
                if (existing.start, existing.end, existing.label, existing.attrs) == (start, end, label, attrs):
                    return _result(work, span=span_dict(existing, work.document.text), replay=True)
                raise Conflict("Another span already has this id.",
                               {"id": [f"Span {span_id!r} exists with a different body."]})
        work.check_open()
        work.check_version(if_match)
        reason = work.rules.overlap_error(work.set.spans, start, end, label)
        if reason:
            raise Invalid(reason, {"start": [reason]})
        span = Span(uuid=_new_id(span_id), start=start, end=end, label=label, attrs=attrs)
        work.set.spans.append(span)
        session.flush()
        after = span_dict(span, work.document.text)
        work.touch("span.create", span, after=after)
    return _result(work, span=after, replay=False)


def update_span(user, document_id: int, span_id: str, changes: dict, if_match: int | None = None) -> dict:
    """Change a span's extent, label or attributes; return it with the new version.

    ``attrs`` replaces the whole attribute object. A label change without ``attrs`` keeps the
    attributes the new label also has (and pre-fills a claim's counts). A change that changes
    nothing answers with the current state and no new version.

    :raise NotFound: when the document is not assigned to ``user`` or has no such span.
    :raise Invalid: as for :func:`create_span`, and when a relation of the span would no
        longer be allowed by the schema.
    :raise Conflict: when the document is closed.
    :raise PreconditionFailed: when ``if_match`` is stale.
    """
    with write_transaction() as session:
        work = _open_work(session, user, document_id)
        span = work.span(span_id)
        text = work.document.text
        before = span_dict(span, text)
        start = changes.get("start", span.start)
        end = changes.get("end", span.end)
        label = changes.get("label", span.label)
        if "attrs" in changes:
            attrs = changes["attrs"] or {}
        elif label != span.label:
            spec = work.rules.labels.get(label) if isinstance(label, str) else None
            names = {a["name"] for a in spec["attributes"]} if spec else set()
            kept = {k: v for k, v in (span.attrs or {}).items() if k in names}
            attrs = prefill_counts(spec, kept, text[start:end]) if spec and 0 <= start < end <= len(text) else kept
        else:
            attrs = dict(span.attrs or {})
        client_text = changes.get("text")
        _raise_if(work.rules.span_problems(text, start, end, label, attrs, client_text))
        if (start, end, label, attrs) == (span.start, span.end, span.label, span.attrs or {}):
            return _result(work, span=before)
        work.check_open()
        work.check_version(if_match)
        reason = work.rules.overlap_error(work.set.spans, start, end, label, ignore=span.uuid)
        if reason:
            raise Invalid(reason, {"start": [reason]})
        if label != span.label:
            if problems := work.rules.relabel_problems(span, label, work.set.relations):
                raise Invalid("The new label breaks relations of this span; delete them first.",
                              {"label": problems})
        span.start, span.end, span.label, span.attrs = start, end, label, attrs
        span.updated_at = now_utc()
        after = span_dict(span, text)
        work.touch("span.update", span, before=before, after=after)
    return _result(work, span=after)


def delete_span(user, document_id: int, span_id: str, if_match: int | None = None) -> dict:
    """Remove a span and the relations that touch it; return the new version.

    :raise NotFound: when the document is not assigned to ``user`` or has no such span.
    :raise Conflict: when the document is closed.
    :raise PreconditionFailed: when ``if_match`` is stale.
    """
    with write_transaction() as session:
        work = _open_work(session, user, document_id)
        span = work.span(span_id)
        work.check_open()
        work.check_version(if_match)
        before = span_dict(span, work.document.text)
        gone = [r for r in work.set.relations if r.head_id == span.id or r.tail_id == span.id]
        before["relations"] = [relation_dict(r) for r in gone]
        for relation in gone:
            work.set.relations.remove(relation)
        work.set.spans.remove(span)
        session.flush()
        work.touch("span.delete", span, before=before)
    return _result(work, deleted_relations=[r["id"] for r in before["relations"]])


# --- relations -------------------------------------------------------------------------------

def create_relation(user, document_id: int, data: dict, if_match: int | None = None) -> dict:
    """Link two of the user's spans; return the relation with the new version.

    ``data`` is ``{id?, head, tail, label, attrs?}`` with span ids as ends. Idempotent on
    ``id`` like :func:`create_span`.

    :raise NotFound: when the document is not assigned to ``user``.
    :raise Invalid: when an end is not one of the user's spans, or the schema forbids the
        relation for that pair of labels.
    :raise Conflict: when the id is taken by a different relation, the same relation exists,
        or the document is closed.
    :raise PreconditionFailed: when ``if_match`` is stale.
    """
    with write_transaction() as session:
        work = _open_work(session, user, document_id)
        by_uuid = {s.uuid: s for s in work.set.spans}
        label, attrs = data["label"], data.get("attrs") or {}
        errors, ends = work.rules.relation_problems(data["head"], data["tail"], label, by_uuid)
        _raise_if(errors, "The relation is not valid.")
        head, tail = ends
        relation_id = data.get("id")
        if relation_id is not None:
            existing = next((r for r in work.set.relations if r.uuid == relation_id), None)
            if existing is not None:
                if (existing.head_id, existing.tail_id, existing.label, existing.attrs or {}) == \
                        (head.id, tail.id, label, attrs):
                    return _result(work, relation=relation_dict(existing), replay=True)
                raise Conflict("Another relation already has this id.",
                               {"id": [f"Relation {relation_id!r} exists with a different body."]})
        work.check_open()
        work.check_version(if_match)
        if any(r.head_id == head.id and r.tail_id == tail.id and r.label == label for r in work.set.relations):
            raise Conflict("This relation exists already.",
                           {"label": [f"{label} from this head to this tail exists already."]})
        relation = Relation(uuid=_new_id(relation_id), head=head, tail=tail, label=label, attrs=attrs)
        work.set.relations.append(relation)
        session.flush()
        after = relation_dict(relation)
        work.touch("relation.create", relation, after=after)
    return _result(work, relation=after, replay=False)


def delete_relation(user, document_id: int, relation_id: str, if_match: int | None = None) -> dict:
    """Remove a relation; return the new version.

    :raise NotFound: when the document is not assigned to ``user`` or has no such relation.
    :raise Conflict: when the document is closed.
    :raise PreconditionFailed: when ``if_match`` is stale.
    """
    with write_transaction() as session:
        work = _open_work(session, user, document_id)
        relation = work.relation(relation_id)
        work.check_open()
        work.check_version(if_match)
        before = relation_dict(relation)
        work.set.relations.remove(relation)
        session.flush()
        work.touch("relation.delete", relation, before=before)
    return _result(work)


# --- the whole set ---------------------------------------------------------------------------

def replace_annotations(user, document_id: int, data: dict, if_match: int | None) -> dict:
    """Replace all of the user's spans and relations at once; return the new state.

    Spans keep their rows when their id survives, so ids stay stable. Sending what is stored
    already changes nothing and answers the current version.

    :raise PreconditionRequired: when ``if_match`` is missing.
    :raise PreconditionFailed: when it is stale.
    :raise Invalid: with errors keyed ``spans.3.end``, ``relations.0.label``.
    :raise NotFound: when the document is not assigned to ``user``.
    :raise Conflict: when the document is closed.
    """
    if if_match is None:
        raise PreconditionRequired("Send If-Match with the version you are replacing.",
                                   {"If-Match": ["Missing; use the version from GET .../annotations."]})
    with write_transaction() as session:
        work = _open_work(session, user, document_id)
        planned, errors = work.rules.plan_spans(work.document.text, data.get("spans", []))
        for plan in planned:  # the rules name no ids; a span sent without one gets a new one
            plan["uuid"] = _new_id(plan["uuid"])
        by_plan = {p["uuid"]: PlannedSpan(**p) for p in planned}
        relation_plans = []
        for i, raw in enumerate(data.get("relations", [])):
            prefix = f"relations.{i}."
            problems, ends = work.rules.relation_problems(raw["head"], raw["tail"], raw["label"], by_plan, prefix)
            errors.update(problems)
            if not problems:
                relation_plans.append({"uuid": _new_id(raw.get("id")), "head": raw["head"],
                                       "tail": raw["tail"], "label": raw["label"],
                                       "attrs": raw.get("attrs") or {}})
        ids = [r["uuid"] for r in relation_plans]
        if len(set(ids)) != len(ids):
            errors.setdefault("relations", []).append("Two relations share an id.")
        _raise_if(errors, "The annotations are not valid; nothing was changed.")
        current = _snapshot(work)
        wanted = ({p["uuid"]: (p["start"], p["end"], p["label"], p["attrs"]) for p in planned},
                  {r["uuid"]: (r["head"], r["tail"], r["label"], r["attrs"]) for r in relation_plans})
        if current == wanted:
            return get_annotations(user, document_id)
        work.check_open()
        work.check_version(if_match)
        before = {"spans": len(work.set.spans), "relations": len(work.set.relations)}
        for relation in list(work.set.relations):
            work.set.relations.remove(relation)
        keep = {p["uuid"]: p for p in planned}
        rows = {}
        for span in list(work.set.spans):
            plan = keep.get(span.uuid)
            if plan is None:
                work.set.spans.remove(span)
                continue
            if (span.start, span.end, span.label, span.attrs) != (plan["start"], plan["end"], plan["label"],
                                                                  plan["attrs"]):
                span.start, span.end, span.label, span.attrs = (plan["start"], plan["end"], plan["label"],
                                                                plan["attrs"])
            rows[span.uuid] = span
        # Flush removals and moves before inserts: a new span may take a removed span's place.
        session.flush()
        for plan in planned:
            if plan["uuid"] not in rows:
                span = Span(uuid=plan["uuid"], start=plan["start"], end=plan["end"], label=plan["label"],
                            attrs=plan["attrs"])
                work.set.spans.append(span)
                rows[plan["uuid"]] = span
        session.flush()
        for plan in relation_plans:
            work.set.relations.append(Relation(uuid=plan["uuid"], head=rows[plan["head"]],
                                               tail=rows[plan["tail"]], label=plan["label"],
                                               attrs=plan["attrs"]))
        session.flush()
        work.touch("annotations.replace", work.set, before=before,
                   after={"spans": len(planned), "relations": len(relation_plans)})
    return get_annotations(user, document_id)


def _snapshot(work: _Work):
    return ({s.uuid: (s.start, s.end, s.label, s.attrs or {}) for s in work.set.spans},
            {r.uuid: (r.head.uuid, r.tail.uuid, r.label, r.attrs or {}) for r in work.set.relations})


# --- status ----------------------------------------------------------------------------------

def set_status(user, document_id: int, status: str, if_match: int | None = None) -> dict:
    """Submit, skip or reopen (``in_progress``) the user's work on a document.

    ``submitted`` and ``skipped`` may follow ``assigned`` directly; a submitted or skipped
    document goes back only to ``in_progress`` (reopening). Submitting checks the schema's
    required attributes on every span. Setting the current status again changes nothing.

    :raise NotFound: when the document is not assigned to ``user``.
    :raise Invalid: for an unknown status or, on submit, spans missing required attributes.
    :raise Conflict: for a move the workflow does not allow (submitted -> skipped).
    :raise PreconditionFailed: when ``if_match`` is stale.
    """
    if status not in STATUSES:
        raise Invalid("Unknown status.", {"status": [f"Must be one of: {', '.join(STATUSES)}."]})
    with write_transaction() as session:
        work = _open_work(session, user, document_id)
        current = work.assignment.status
        if status == current:
            return _result(work, status=current)
        if current in CLOSED and status != "in_progress":
            raise Conflict(f"This document is {current}; reopen it first.",
                           {"status": [f"Cannot go from {current} to {status}."]})
        work.check_version(if_match)
        if status == "submitted":
            _raise_if(work.rules.submission_errors(work.set.spans), "Fill the required attributes before submitting.")
        now = now_utc()
        work.assignment.status = status
        work.assignment.finished_at = now if status in CLOSED else None
        if work.assignment.started_at is None:
            work.assignment.started_at = now
        work.assignment.updated_at = now
        work.set.version += 1
        work.set.updated_at = now
        audit.record(f"assignment.{status}", work.assignment, actor=user,
                     before={"status": current}, after={"status": status},
                     project_id=work.document.project_id, document_id=document_id)
    return _result(work, status=status)
