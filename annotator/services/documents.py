"""Documents in: validate records, normalise text, tokenize, dedupe, store with their spans.

A record is ``{text, id|external_id?, meta?, spans?, relations?}``, the format of the sample
corpus: spans are ``{start, end, text?, label, attrs?, id?}`` with offsets into the record's
text as given (before normalisation), relations are ``{head, tail, label, id?}`` whose ends
are span indices in the record or span ids.

The import is atomic by default: one invalid record rejects the whole batch, every error is
listed by line, and nothing is stored. With ``skip_invalid`` the valid records are stored
and the rest reported.
"""

import hashlib
import uuid as uuidlib
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field

from sqlalchemy import select

from annotator.errors import Invalid
from annotator.extensions import write_transaction
from annotator.models import AnnotationSet
from annotator.models import Assignment
from annotator.models import Document
from annotator.models import Project
from annotator.models import ProjectMember
from annotator.models import Relation
from annotator.models import Span
from annotator.models import User
from annotator.models import now_utc
from annotator.services import audit
from annotator.services.annotations import overlap_error
from annotator.services.annotations import span_errors
from annotator.services.schema import attribute_errors
from annotator.services.schema import relation_error
from annotator.services.text import TextError
from annotator.services.text import normalize_text
from annotator.services.text import tokenize

RECORD_FIELDS = {"text", "id", "external_id", "meta", "spans", "relations"}


@dataclass
class ImportReport:
    created: int = 0
    duplicates: list[dict] = field(default_factory=list)
    document_ids: list[int] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "duplicates": self.duplicates,
            "document_ids": self.document_ids,
            "errors": [{"line": int(line), "message": "; ".join(messages)}
                       for line, messages in self.errors.items()],
        }


@dataclass
class _Prepared:
    line: int
    external_id: str | None
    text: str
    sha: str
    meta: dict
    lang: str
    spans: list[dict]
    relations: list[dict]


def text_sha256(text: str) -> str:
    """Return the SHA-256 of the stored text's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def prepare_record(record, schema: dict, max_chars: int) -> tuple[_Prepared | None, list[str]]:
    """Validate one record and return it normalised, or the list of what is wrong with it."""
    if not isinstance(record, dict):
        return None, ["A record must be a JSON object."]
    problems = [f"Unknown field {key!r}." for key in sorted(set(record) - RECORD_FIELDS)]
    raw = record.get("text")
    if not isinstance(raw, str) or not raw.strip():
        return None, problems + ["The record has no text."]
    if len(raw) > max_chars:
        return None, problems + [f"The text has {len(raw):,} characters; the limit is {max_chars:,}."]
    try:
        text, remap = normalize_text(raw)
    except TextError as error:
        return None, problems + [str(error)]
    external_id = record.get("external_id", record.get("id"))
    if external_id is not None and not isinstance(external_id, (str, int)):
        problems.append("external_id must be a string or a number.")
    elif external_id is not None:
        external_id = str(external_id)
        if not external_id or len(external_id) > 200:
            problems.append("external_id must have 1-200 characters.")
    meta = record.get("meta") or {}
    if not isinstance(meta, dict):
        problems.append("meta must be an object.")
        meta = {}
    lang = meta.get("lang") or "en"
    if not isinstance(lang, str) or len(lang) > 16:
        problems.append("meta.lang must be a language tag such as 'en' or 'ar'.")
        lang = "en"
    spans, relations = [], []
    raw_spans = record.get("spans") or []
    raw_relations = record.get("relations") or []
    if not isinstance(raw_spans, list):
        problems.append("spans must be a list.")
        raw_spans = []
    if not isinstance(raw_relations, list):
        problems.append("relations must be a list.")
        raw_relations = []
    labels = {label["name"] for label in schema["labels"]}
    for i, raw_span in enumerate(raw_spans):
        span, span_problems = _prepare_span(raw_span, text, remap, schema, labels, spans)
        problems.extend(f"span {i}: {p}" for p in span_problems)
        spans.append(span)
    by_id = {s["uuid"]: k for k, s in enumerate(spans) if s is not None}
    for i, raw_relation in enumerate(raw_relations):
        relation, relation_problems = _prepare_relation(raw_relation, spans, by_id, schema)
        problems.extend(f"relation {i}: {p}" for p in relation_problems)
        relations.append(relation)
    if problems:
        return None, problems
    return _Prepared(None, external_id, text, text_sha256(text), meta, lang, spans, relations), []


def _prepare_span(raw, text, remap, schema, labels, accepted):
    if not isinstance(raw, dict):
        return None, ["Must be an object."]
    problems = [f"unknown field {k!r}" for k in sorted(set(raw) - {"start", "end", "text", "label", "attrs", "id"})]
    start, end = raw.get("start"), raw.get("end")
    if type(start) is not int or type(end) is not int:
        return None, problems + ["start and end must be whole numbers."]
    start, end = remap(start), remap(end)
    client_text = raw.get("text")
    if isinstance(client_text, str):
        client_text = normalize_text(client_text)[0] if "\r" in client_text else client_text
    errors = span_errors(text, start, end, client_text)
    problems += [f"{k}: {m}" for k, ms in errors.items() for m in ms]
    label = raw.get("label")
    if label not in labels:
        problems.append(f"unknown label {label!r}.")
    else:
        problems += attribute_errors(schema, label, raw.get("attrs") or {})
    span_id = raw.get("id") or str(uuidlib.uuid4())
    if not isinstance(span_id, str) or len(span_id) > 64:
        problems.append("id must be a string of at most 64 characters.")
    if not problems:
        previous = [_SpanView(s) for s in accepted if s is not None]
        if reason := overlap_error(schema.get("overlap", "nest"), previous, start, end, label):
            problems.append(reason)
        if any(s["uuid"] == span_id for s in accepted if s is not None):
            problems.append(f"duplicate span id {span_id!r}.")
    if problems:
        return None, problems
    return {"uuid": span_id, "start": start, "end": end, "label": label,
            "attrs": raw.get("attrs") or {}}, []


class _SpanView:
    def __init__(self, span):
        self.start, self.end, self.label, self.uuid = span["start"], span["end"], span["label"], span["uuid"]


def _prepare_relation(raw, spans, by_id, schema):
    if not isinstance(raw, dict):
        return None, ["Must be an object."]
    problems = [f"unknown field {k!r}" for k in sorted(set(raw) - {"head", "tail", "label", "id", "attrs"})]
    ends = []
    for name in ("head", "tail"):
        ref = raw.get(name)
        index = by_id.get(ref) if isinstance(ref, str) else ref
        if type(index) is not int or not 0 <= index < len(spans) or spans[index] is None:
            problems.append(f"{name} must be the index or id of a valid span of this record.")
        else:
            ends.append(spans[index])
    if problems:
        return None, problems
    head, tail = ends
    if reason := relation_error(schema, raw.get("label"), head["label"], tail["label"]):
        return None, [reason]
    return {"uuid": raw.get("id") or str(uuidlib.uuid4()), "head": head["uuid"],
            "tail": tail["uuid"], "label": raw["label"], "attrs": raw.get("attrs") or {}}, []


def import_records(project: Project, records: Iterable[tuple[int, object]], *, as_user: User | None = None,
                   suggestions: bool = False, skip_invalid: bool = False, actor=None,
                   max_chars: int = 1_000_000) -> ImportReport:
    """Import ``(line, record)`` pairs into ``project`` and return the report.

    :param as_user: a project member whose annotation set the record's spans become (and who
        gets an in-progress assignment); without it, spans become suggestions when
        ``suggestions`` is set and are refused otherwise.
    :raise Invalid: when any record is invalid and ``skip_invalid`` is not set; the errors
        are keyed by line and nothing is stored.
    """
    report = ImportReport()
    prepared: list[_Prepared] = []
    for line, record in records:
        item, problems = prepare_record(record, project.schema, max_chars)
        if item is not None and (item.spans or item.relations) and as_user is None and not suggestions:
            problems = ["The record has spans: name the user they belong to (as_user) or import them as suggestions."]
            item = None
        if problems:
            report.errors[str(line)] = problems
            continue
        item.line = line
        prepared.append(item)
    if report.errors and not skip_invalid:
        raise Invalid(f"{len(report.errors)} record(s) are invalid; nothing was imported.", report.errors)
    with write_transaction() as session:
        if as_user is not None:
            member = session.get(ProjectMember, (project.id, as_user.id))
            if member is None:
                raise Invalid("The annotator is not a member of the project.",
                              {"as_user": [f"{as_user.username} is not a member of this project."]})
        shas = {d.sha for d in prepared}
        ext_ids = {d.external_id for d in prepared if d.external_id is not None}
        existing_sha = dict(session.execute(
            select(Document.text_sha256, Document.id).where(
                Document.project_id == project.id, Document.text_sha256.in_(shas))).all()) if shas else {}
        existing_ext = dict(session.execute(
            select(Document.external_id, Document.text_sha256).where(
                Document.project_id == project.id, Document.external_id.in_(ext_ids))).all()) if ext_ids else {}
        seen_sha: dict[str, int] = {}
        seen_ext: dict[str, str] = {}
        to_store = []
        for item in prepared:
            if item.sha in existing_sha or item.sha in seen_sha:
                report.duplicates.append({"line": item.line, "external_id": item.external_id,
                                          "document_id": existing_sha.get(item.sha)})
                continue
            if item.external_id is not None:
                other = existing_ext.get(item.external_id) or seen_ext.get(item.external_id)
                if other is not None:
                    report.errors[str(item.line)] = [
                        f"external id {item.external_id!r} is already used by another document."]
                    continue
                seen_ext[item.external_id] = item.sha
            seen_sha[item.sha] = item.line
            to_store.append(item)
        if report.errors and not skip_invalid:
            raise Invalid(f"{len(report.errors)} record(s) are invalid; nothing was imported.", report.errors)
        for item in to_store:
            document = Document(project_id=project.id, external_id=item.external_id, text=item.text,
                                text_sha256=item.sha, meta=item.meta, lang=item.lang,
                                tokens=tokenize(item.text, item.lang))
            session.add(document)
            session.flush()
            report.document_ids.append(document.id)
            if item.spans:
                _store_set(session, document, item, as_user)
        report.created = len(report.document_ids)
        audit.record("document.import", project, actor=actor, project_id=project.id,
                     after={"created": report.created, "duplicates": len(report.duplicates)})
    return report


def _store_set(session, document, item, as_user):
    kind = "manual" if as_user is not None else "suggestion"
    annotation_set = AnnotationSet(document_id=document.id, user_id=getattr(as_user, "id", None),
                                   kind=kind, version=1)
    session.add(annotation_set)
    session.flush()
    rows = {}
    for span in item.spans:
        row = Span(set_id=annotation_set.id, uuid=span["uuid"], start=span["start"], end=span["end"],
                   label=span["label"], attrs=span["attrs"])
        session.add(row)
        rows[span["uuid"]] = row
    session.flush()
    for relation in item.relations:
        session.add(Relation(set_id=annotation_set.id, uuid=relation["uuid"],
                             head_id=rows[relation["head"]].id, tail_id=rows[relation["tail"]].id,
                             label=relation["label"], attrs=relation["attrs"]))
    if as_user is not None:
        session.add(Assignment(document_id=document.id, user_id=as_user.id, status="in_progress",
                               started_at=now_utc()))
