"""Documents in: validate records, normalise text, tokenize, dedupe, store with their spans.

A record is ``{text, id|external_id?, meta?, spans?, relations?}``, the format of the sample
corpus: spans are ``{start, end, text?, label, attrs?, id?}`` with offsets into the record's
text as given (before normalisation), relations are ``{head, tail, label, id?, attrs?}``
whose ends are span indices in the record or span ids. The JSONL export record (DESIGN.md
section 7) is a record too: its ``schema_version``, ``text_sha256`` (checked), ``lang``,
``offsets`` (must be code points, end-exclusive), ``annotator`` and ``status`` are read;
``project``, ``document_id``, ``tokens`` and ``updated_at`` and the spans' ``token_start``,
``token_end`` and ``utf16`` are derived data, accepted and recomputed.

Whose spans: ``as_user`` (a project member) takes every record's spans as their manual set,
with an in-progress assignment; else ``suggestions`` makes them suggestions; else an export
record's ``annotator`` (a member) gets them back with the record's status. A record whose
text is already in the project is a duplicate, unless it brings a set the document does not
have yet (the second annotator of an export): then that set is added to the document.

The import is atomic by default: one invalid record rejects the whole input, every error is
listed by line, and nothing is stored. With ``skip_invalid`` the valid records are stored and
the rest reported. Records stream through in batches inside one transaction, so memory does
not grow with the file, and a failure at any point rolls everything back. Large imports check
and tokenize in worker processes while the importing process stores (:func:`_iter_checked`).
"""

import bisect
import gc
import hashlib
import itertools
import json
import multiprocessing
import os
import re
import time
from collections import deque
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from contextlib import contextmanager
from contextlib import nullcontext
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from flask import current_app
from flask import has_app_context
from sqlalchemy import Text
from sqlalchemy import cast
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update

from annotator.errors import Invalid
from annotator.extensions import db
from annotator.extensions import write_transaction
from annotator.models import ASSIGNMENT_STATUSES
from annotator.models import AnnotationSet
from annotator.models import Assignment
from annotator.models import Document
from annotator.models import Project
from annotator.models import ProjectMember
from annotator.models import User
from annotator.models import now_utc
from annotator.services import audit
from annotator.services.annotations import overlap_error
from annotator.services.annotations import span_errors
from annotator.services.readers import Location
from annotator.services.readers import Unreadable
from annotator.services.readers import bad_character
from annotator.services.readers import check_json_value
from annotator.services.readers import clean
from annotator.services.schema import attribute_errors
from annotator.services.schema import relation_error
from annotator.services.text import BOM
from annotator.services.text import Graphemes
from annotator.services.text import OffsetMap
from annotator.services.text import TextError
from annotator.services.text import normalize_text
from annotator.services.text import tokenize_many

SCHEMA_VERSION = "conflict-annotator/1"
RECORD_FIELDS = {"text", "id", "external_id", "meta", "spans", "relations"}
# Fields of the JSONL export record (DESIGN.md section 7), so that an export imports as is.
EXPORT_FIELDS = {"schema_version", "project", "document_id", "text_sha256", "lang", "offsets",
                 "tokens", "annotator", "status", "updated_at"}
SPAN_FIELDS = {"start", "end", "text", "label", "attrs", "id", "token_start", "token_end", "utf16"}
RELATION_FIELDS = {"head", "tail", "label", "id", "attrs"}
KNOWN_RECORD_FIELDS = RECORD_FIELDS | EXPORT_FIELDS
LANG_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}$")
BATCH_SIZE = 500
# Past this many records an import checks and tokenizes the rest in worker processes while
# this one stores: for fewer, starting the workers and sending records across costs more
# than it saves.
POOL_THRESHOLD = 1_000
POOL_WORKERS = 2
# Reports list this many errors and duplicates; beyond, they are counted.
MAX_LISTED = 1000
# Only these characters make the normalisation do anything; most texts skip it.
_NEEDS_NORMALIZING = re.compile("[\x00\r\ud800-\udfff]")


@dataclass
class ImportReport:
    """What an import did: documents created, duplicates, sets added, errors by location."""

    created: int = 0
    duplicates: list[dict] = field(default_factory=list)
    duplicate_count: int = 0
    document_ids: list[int] = field(default_factory=list)
    annotation_sets: int = 0
    errors: dict[str, list[str]] = field(default_factory=dict)
    error_count: int = 0
    records: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def add_error(self, location, problems: list[str]) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_LISTED:
            self.errors[str(location)] = problems

    def add_duplicate(self, item: "_Prepared", document_id: int | None) -> None:
        self.duplicate_count += 1
        if len(self.duplicates) < MAX_LISTED:
            entry = _location_dict(item.location)
            entry.update(external_id=item.external_id, document_id=document_id or None)
            self.duplicates.append(entry)

    def error_message(self) -> str:
        listed = "" if self.error_count <= len(self.errors) else f" (the first {len(self.errors):,} are listed)"
        return (f"{self.error_count:,} of {self.records:,} record(s) are invalid; nothing was imported"
                f"{listed}.")

    def as_dict(self) -> dict:
        errors = []
        for key, messages in self.errors.items():
            entry = _location_dict(_parse_location(key))
            entry["message"] = " ".join(m if m.endswith(".") else m + "." for m in messages)
            errors.append(entry)
        # Errors found while storing (a used external id) come after the others: sort by place.
        errors.sort(key=lambda e: (e.get("file") or "", e["line"]))
        return {
            "created": self.created,
            "duplicates": self.duplicates,
            "duplicate_count": self.duplicate_count,
            "document_ids": self.document_ids,
            "annotation_sets": self.annotation_sets,
            "errors": errors,
            "error_count": self.error_count,
            "records": self.records,
        }


def _parse_location(key: str):
    file, _, line = key.rpartition(":")
    if line.isdigit():
        return Location(int(line), file or None)
    return Location(0, key)


def _location_dict(location) -> dict:
    if isinstance(location, Location):
        return {"line": location.line, "file": location.file} if location.file else {"line": location.line}
    return {"line": location}


@dataclass(slots=True)
class _Prepared:
    """A checked record, ready to store: ``meta`` and every ``attrs`` are JSON text."""

    location: Any
    external_id: str | None
    text: str
    sha: str
    meta: str
    lang: str
    spans: list[dict]
    relations: list[dict]
    owner: tuple | None = None  # ("manual", user_id) or ("suggestion", None): whose set
    status: str = "in_progress"
    tokens: str | None = None  # the tokens as JSON text, once computed (see _add_tokens)


@dataclass
class _Context:
    """What every record of one import is checked against, computed once."""

    schema: dict
    labels: set
    # Each label's schema cut down to that label, so that attribute_errors (which indexes the
    # labels it is given) does not index every label of the schema again for every span.
    label_schemas: dict[str, dict]
    policy: str
    max_chars: int
    clean: bool
    as_user_id: int | None
    suggestions: bool
    members: dict[str, int]


def text_sha256(text: str) -> str:
    """Return the SHA-256 of the stored text's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def config_max_chars() -> int:
    """Return the configured document size limit (MAX_DOCUMENT_CHARS)."""
    if has_app_context():
        return int(current_app.config.get("MAX_DOCUMENT_CHARS", 1_000_000))
    return 1_000_000


def prepare_record(record, schema: dict, max_chars: int, *, clean_text: bool = False,
                   context: _Context | None = None) -> tuple[_Prepared | None, list[str]]:
    """Validate one record and return it normalised, or the list of what is wrong with it."""
    context = context or _context(schema, max_chars, clean_text, None, False, {})
    if isinstance(record, Unreadable):
        return None, [record.message]
    if not isinstance(record, dict):
        return None, ["A record must be a JSON object."]
    problems = [] if record.keys() <= KNOWN_RECORD_FIELDS else [
        f"Unknown field {key!r}." for key in sorted(record.keys() - KNOWN_RECORD_FIELDS)]
    raw = record.get("text")
    if not isinstance(raw, str) or not raw.strip():
        return None, problems + ["The record has no text."]
    if len(raw) > context.max_chars:
        return None, problems + [f"The text has {len(raw):,} characters; the limit is {context.max_chars:,}."]
    if raw.startswith(BOM) or _NEEDS_NORMALIZING.search(raw):
        try:
            text, remap = normalize_text(raw)
        except TextError as error:
            return None, problems + [str(error)]
    else:
        text, remap = raw, None
    problems += _export_fields_problems(record, text)
    removed: list[int] = []
    if context.clean:
        text, removed = clean(text)
        if not text.strip():
            return None, problems + ["Nothing is left of the text once boilerplate lines are removed."]
    external_id = _external_id(record, problems)
    meta = record.get("meta")
    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        problems.append("meta must be an object.")
        meta = {}
    elif problem := check_json_value(meta, "meta"):
        problems.append(problem)
    lang = record.get("lang") or meta.get("lang") or "en"
    if not isinstance(lang, str) or not LANG_RE.fullmatch(lang):
        problems.append("lang must be a language tag such as 'en' or 'ar'.")
        lang = "en"
    raw_spans = record.get("spans") or []
    raw_relations = record.get("relations") or []
    if not isinstance(raw_spans, list):
        problems.append("spans must be a list.")
        raw_spans = []
    if not isinstance(raw_relations, list):
        problems.append("relations must be a list.")
        raw_relations = []
    owner, status = _owner(record, bool(raw_spans or raw_relations), context, problems)
    mapping = _composed_map(remap, removed)
    spans: list[dict | None] = []
    views: list[_SpanView] = []
    span_ids: set[str] = set()
    graphemes = Graphemes(text)  # one for all the record's spans: it keeps what it found
    for i, raw_span in enumerate(raw_spans):
        span, span_problems = _prepare_span(raw_span, text, mapping, removed, remap, context, views, span_ids,
                                            graphemes)
        if span_problems:
            problems.extend(f"span {i}: {p}" for p in span_problems)
        spans.append(span)
        if span is not None:
            views.append(_SpanView(span))
            span_ids.add(span["uuid"])
    by_id = {s["uuid"]: k for k, s in enumerate(spans) if s is not None}
    if raw_relations and not raw_spans:
        problems.append("relations link spans, but the record has none.")
        raw_relations = []
    relations = []
    relation_ids = set()
    for i, raw_relation in enumerate(raw_relations):
        relation, relation_problems = _prepare_relation(raw_relation, spans, by_id, context.schema)
        if relation is not None and relation["uuid"] in relation_ids:
            relation, relation_problems = None, [f"duplicate relation id {relation['uuid']!r}."]
        problems.extend(f"relation {i}: {p}" for p in relation_problems)
        if relation is not None:
            relation_ids.add(relation["uuid"])
            relations.append(relation)
    if problems:
        return None, problems
    item = _Prepared(None, external_id, text, text_sha256(text), json.dumps(meta),
                     lang.split("-")[0].split("_")[0].lower(), spans, relations, owner, status)
    return item, []


def _export_fields_problems(record: dict, text: str) -> list[str]:
    """Check the fields only an export record carries against the text they describe."""
    problems = []
    version = record.get("schema_version")
    if version is not None and version != SCHEMA_VERSION:
        problems.append(f"schema_version {version!r} is not supported (expected {SCHEMA_VERSION!r}).")
    offsets = record.get("offsets")
    if offsets is not None and offsets != {"unit": "codepoint", "end": "exclusive"}:
        problems.append('offsets must be {"unit": "codepoint", "end": "exclusive"}; '
                        "other offset units are not imported.")
    sha = record.get("text_sha256")
    if sha is not None and sha != text_sha256(text):
        problems.append("text_sha256 does not match the text: the text was changed after export.")
    return problems


def _external_id(record: dict, problems: list[str]) -> str | None:
    external_id = record.get("external_id", record.get("id"))
    if "external_id" in record and "id" in record and record["id"] != record["external_id"]:
        problems.append("id and external_id differ; give one of them.")
    if external_id is None:
        return None
    if isinstance(external_id, bool) or not isinstance(external_id, (str, int)):
        problems.append("external_id must be a string or a number.")
        return None
    external_id = str(external_id)
    if not external_id or len(external_id) > 200:
        problems.append("external_id must have 1-200 characters.")
    elif problem := bad_character(external_id):
        problems.append(f"external_id {problem}")
    return external_id


def _owner(record: dict, has_spans: bool, context: _Context, problems: list[str]):
    """Return whose set the record's spans become, and the assignment status they get."""
    if context.as_user_id is not None:
        return ("manual", context.as_user_id), "in_progress"
    if context.suggestions:
        return (("suggestion", None), "in_progress") if has_spans else (None, "in_progress")
    annotator = record.get("annotator")
    if annotator is not None:
        status = record.get("status") or "in_progress"
        if status not in ASSIGNMENT_STATUSES:
            problems.append(f"status must be one of: {', '.join(ASSIGNMENT_STATUSES)}.")
        user_id = context.members.get(annotator) if isinstance(annotator, str) else None
        if user_id is None:
            problems.append(f"annotator {annotator!r} is not a member of this project: add them first, "
                            "or import with as_user or as suggestions.")
            return None, status
        return ("manual", user_id), status
    if has_spans:
        problems.append("The record has spans: name the user they belong to (as_user) "
                        "or import them as suggestions.")
    return None, "in_progress"


def _composed_map(remap: OffsetMap | None, removed: list[int]):
    if remap is None and not removed:
        return None
    after_clean = OffsetMap(removed) if removed else None
    if remap is None:
        return after_clean
    if after_clean is None:
        return remap
    return lambda offset: after_clean(remap(offset))


def _prepare_span(raw, text, mapping, removed, remap, context: _Context, views, span_ids: set[str],
                  graphemes: Graphemes | None = None):
    if not isinstance(raw, dict):
        return None, ["Must be an object."]
    problems = [] if raw.keys() <= SPAN_FIELDS else [f"unknown field {k!r}" for k in sorted(raw.keys() - SPAN_FIELDS)]
    start, end = raw.get("start"), raw.get("end")
    if type(start) is not int or type(end) is not int:
        return None, problems + ["start and end must be whole numbers."]
    if mapping is not None:
        if removed:
            # Offsets in the normalised text, before cleaning: no removed line may fall inside.
            low, high = (remap(start), remap(end)) if remap is not None else (start, end)
            if _covers_removed(removed, low, high):
                return None, problems + ["the span covers a line that cleaning removes."]
        start, end = mapping(start), mapping(end)
    client_text = raw.get("text")
    if isinstance(client_text, str) and (client_text.startswith(BOM) or "\r" in client_text):
        try:
            client_text = normalize_text(client_text)[0]
        except TextError as error:
            problems.append(f"text: {error}")
    elif client_text is not None and not isinstance(client_text, str):
        problems.append("text must be a string.")
        client_text = None
    if errors := span_errors(text, start, end, client_text, graphemes):
        problems += [f"{k}: {m}" for k, ms in errors.items() for m in ms]
    label = raw.get("label")
    attrs = raw.get("attrs")
    if attrs is None:
        attrs = {}
    if not isinstance(label, str) or label not in context.labels:
        problems.append(f"unknown label {label!r}.")
    else:
        problems += attribute_errors(context.label_schemas[label], label, attrs)
        if not problems:
            # The schema allows only scalar values; text values may still hold a NUL.
            problems += [f"attrs.{name} {problem}" for name, value in attrs.items()
                         if type(value) is str and (problem := bad_character(value))]
    span_id = raw.get("id")
    if span_id is None:
        span_id = _new_uuid()
    elif not isinstance(span_id, str) or not 0 < len(span_id) <= 64 or bad_character(span_id):
        problems.append("id must be a string of 1-64 characters.")
    if not problems:
        if reason := overlap_error(context.policy, views, start, end, label):
            problems.append(reason)
        elif span_id in span_ids:
            problems.append(f"duplicate span id {span_id!r}.")
    if problems:
        return None, problems
    return {"uuid": span_id, "start": start, "end": end, "label": label, "attrs": json.dumps(attrs)}, []


_random_pool: list[str] = []


def _new_uuid() -> str:
    """Return a random (version 4) UUID as a string.

    uuid.uuid4() asks the kernel for 16 bytes per call; an import of 150,000 spans spent more
    time there than in checking the spans. These come 256 at a time.
    """
    global _random_pool
    if not _random_pool:
        _random_pool = _uuid_batch()
    return _random_pool.pop()


def _uuid_batch(size: int = 256) -> list[str]:
    data = os.urandom(16 * size).hex()
    result = []
    for i in range(0, len(data), 32):
        h = data[i:i + 32]
        # Version 4 in the 13th digit, the RFC 4122 variant (8, 9, a or b) in the 17th.
        result.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}")
    return result


def _covers_removed(removed: list[int], start: int, end: int) -> bool:
    index = bisect.bisect_left(removed, start)
    return index < len(removed) and removed[index] < end


class _SpanView:
    __slots__ = ("start", "end", "label", "uuid")

    def __init__(self, span):
        self.start, self.end, self.label, self.uuid = span["start"], span["end"], span["label"], span["uuid"]


def _prepare_relation(raw, spans, by_id, schema):
    if not isinstance(raw, dict):
        return None, ["Must be an object."]
    problems = [f"unknown field {k!r}" for k in sorted(set(raw) - RELATION_FIELDS)]
    ends = []
    for name in ("head", "tail"):
        ref = raw.get(name)
        index = by_id.get(ref) if isinstance(ref, str) else ref
        if type(index) is not int or not 0 <= index < len(spans) or spans[index] is None:
            problems.append(f"{name} must be the index or id of a valid span of this record.")
        else:
            ends.append(spans[index])
    relation_id = raw.get("id")
    if relation_id is None:
        relation_id = _new_uuid()
    elif not isinstance(relation_id, str) or not 0 < len(relation_id) <= 64 or bad_character(relation_id):
        problems.append("id must be a string of 1-64 characters.")
    attrs = raw.get("attrs")
    if attrs is None:
        attrs = {}
    elif not isinstance(attrs, dict):
        problems.append("attrs must be an object.")
    elif problem := check_json_value(attrs, "attrs"):
        problems.append(problem)
    if problems:
        return None, problems
    head, tail = ends
    label = raw.get("label")
    if not isinstance(label, str):
        return None, ["label must be a string."]
    if reason := relation_error(schema, label, head["label"], tail["label"]):
        return None, [reason]
    return {"uuid": relation_id, "head": head["uuid"], "tail": tail["uuid"], "label": label,
            "attrs": json.dumps(attrs)}, []


def _context(schema, max_chars, clean_text, as_user_id, suggestions, members) -> _Context:
    label_schemas = {label["name"]: {**schema, "labels": [label]} for label in schema["labels"]}
    return _Context(schema=schema, labels=set(label_schemas), label_schemas=label_schemas,
                    policy=schema.get("overlap", "nest"), max_chars=max_chars, clean=clean_text,
                    as_user_id=as_user_id, suggestions=suggestions, members=members)


def find_import_user(project: Project, username: str | None) -> User | None:
    """Return the member of ``project`` named ``username`` (None when no name is given).

    :raise Invalid: when there is no such member (an unknown user reads the same).
    """
    if not username:
        return None
    user = db.session.scalar(
        select(User).join(ProjectMember, ProjectMember.user_id == User.id)
        .where(ProjectMember.project_id == project.id, User.username == username))
    if user is None:
        raise Invalid("The annotator is not a member of the project.",
                      {"as_user": [f"{username} is not a member of this project."]})
    return user


def import_records(project: Project, records: Iterable[tuple[Any, object]], *, as_user: User | None = None,
                   suggestions: bool = False, skip_invalid: bool = False, actor=None,
                   max_chars: int | None = None, clean: bool = False,
                   progress: Callable[["ImportReport"], None] | None = None,
                   batch_size: int = BATCH_SIZE, pool_threshold: int = POOL_THRESHOLD) -> ImportReport:
    """Import ``(location, record)`` pairs into ``project`` and return the report.

    Records are read lazily, checked, and stored ``batch_size`` at a time inside one
    transaction; the reading, checking and storing of the whole input commit together or not
    at all. Past ``pool_threshold`` records, the checking and tokenizing go to worker
    processes (see :func:`_iter_checked`); this process still reads, dedupes and stores.

    :param as_user: a project member whose manual annotation set the records' spans become
        (they get an in-progress assignment).
    :param suggestions: without ``as_user``, store the spans as suggestions.
    :param clean: drop boilerplate lines from each text (see :func:`readers.clean`).
    :param max_chars: the longest text accepted; MAX_DOCUMENT_CHARS by default.
    :param progress: called with the report after each stored batch.
    :raise Invalid: when a record is invalid and ``skip_invalid`` is not set (the errors are
        keyed by location and nothing is stored), when ``as_user`` is not a member, or when
        the input cannot be read at all (:class:`~annotator.services.readers.ReadError`).
    """
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    report = ImportReport()
    max_chars = max_chars or config_max_chars()
    with _cyclic_gc_paused(), write_transaction() as session:
        members = dict(session.execute(
            select(User.username, User.id).join(ProjectMember, ProjectMember.user_id == User.id)
            .where(ProjectMember.project_id == project.id)).all())
        if as_user is not None and as_user.id not in members.values():
            raise Invalid("The annotator is not a member of the project.",
                          {"as_user": [f"{as_user.username} is not a member of this project."]})
        context = _context(project.schema, max_chars, clean, getattr(as_user, "id", None), suggestions, members)
        store = _Store(session, project, report, skip_invalid)
        # closing(): on an error the worker processes stop now, not when the traceback goes.
        with closing(_iter_checked(records, context, batch_size, pool_threshold)) as checked_batches:
            for checked in checked_batches:
                batch = []
                for location, item, problems in checked:
                    report.records += 1
                    if problems:
                        report.add_error(location, problems)
                    else:
                        batch.append(item)
                store.flush(batch)
                if progress is not None:
                    progress(report)
        if report.error_count and not skip_invalid:
            raise Invalid(report.error_message(), report.errors)
        audit.record("document.import", project, actor=actor, project_id=project.id,
                     after={"created": report.created, "duplicates": report.duplicate_count,
                            "annotation_sets": report.annotation_sets, "invalid": report.error_count})
    report.seconds = time.perf_counter() - started
    report.cpu_seconds = _cpu_seconds() - cpu_started
    if progress is not None:
        progress(report)
    return report


def _cpu_seconds() -> float:
    """Return the CPU time of this process and of its finished worker processes."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _iter_batches(records: Iterable, size: int) -> Iterator[list]:
    batch = []
    for pair in records:
        batch.append(pair)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _check_batch(batch: list[tuple[Any, object]], context: _Context, *, tokens: bool = False) -> list[tuple]:
    """Return ``(location, item or None, problems)`` for each record of a batch."""
    checked = []
    for location, record in batch:
        item, problems = prepare_record(record, context.schema, context.max_chars, context=context)
        if item is not None:
            item.location = location
        checked.append((location, item, problems))
    if tokens:
        _add_tokens([item for _, item, _ in checked if item is not None])
    return checked


def _add_tokens(items: list[_Prepared]) -> None:
    """Tokenize the items' texts, a batch per language, and keep the tokens as JSON text."""
    by_lang: dict[str, list[_Prepared]] = {}
    for item in items:
        by_lang.setdefault(item.lang, []).append(item)
    for lang, group in by_lang.items():
        for item, tokens in zip(group, tokenize_many([item.text for item in group], lang), strict=True):
            item.tokens = json.dumps(tokens)


def _iter_checked(records: Iterable, context: _Context, batch_size: int, pool_threshold: int) -> Iterator[list]:
    """Yield the records checked batch by batch, in order: see :func:`_check_batch`.

    The first ``pool_threshold`` records (in whole batches, at least one) are checked here,
    and tokenized later only if they are new documents. The rest go to a pool of worker
    processes that check and tokenize them (duplicates too: the workers cannot know them; the
    rules are pure functions of the record and the import's context) while this process
    stores the batches before them. At most two batches per worker are in flight, so memory
    stays flat in the size of the input.
    """
    batches = _iter_batches(records, batch_size)
    for batch in itertools.islice(batches, max(1, -(-pool_threshold // batch_size))):
        yield _check_batch(batch, context)
    if len(os.sched_getaffinity(0)) < 2:  # with one core, workers would only add their overhead
        for batch in batches:
            yield _check_batch(batch, context)
        return
    batch = next(batches, None)
    if batch is None:
        return
    # Workers are forked (Linux): they start at once and share spaCy's tokenizer, loaded here
    # first, instead of each importing spaCy anew (about a second of CPU each).
    tokenize_many(["warm up"], "en")
    pool = ProcessPoolExecutor(POOL_WORKERS, mp_context=multiprocessing.get_context("fork"),
                               initializer=_start_worker, initargs=(context,))
    try:
        pending = deque([pool.submit(_check_in_worker, batch)])
        for batch in batches:
            pending.append(pool.submit(_check_in_worker, batch))
            if len(pending) >= 2 * POOL_WORKERS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_worker_context: _Context | None = None


def _start_worker(context: _Context) -> None:
    global _worker_context, _random_pool
    _worker_context = context
    # The fork copied this process's unused random ids: every worker would hand out the same.
    _random_pool = []
    gc.disable()


def _check_in_worker(batch: list[tuple[Any, object]]) -> list[tuple]:
    return _check_batch(batch, _worker_context, tokens=True)


@contextmanager
def _cyclic_gc_paused():
    """Pause the cycle collector while records stream through.

    An import allocates millions of small lists (tokens, rows) that are freed by reference
    counting; the cycle collector would otherwise walk the whole heap (spaCy's vocabulary
    included) again and again, which more than doubled the tokenizing time in bench/import.py.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Store:
    """Dedupes and stores batches of prepared records within the import's transaction."""

    def __init__(self, session, project: Project, report: ImportReport, skip_invalid: bool):
        self.session, self.project, self.report, self.skip_invalid = session, project, report, skip_invalid
        self.created: dict[bytes, int] = {}  # digest -> document id (0 while not stored)
        self.external: dict[str, bytes] = {}  # external id -> digest, for this import
        self.owned: set[tuple] = set()  # (digest, owner) of the sets stored by this import
        self._writer: _Writer | None = None

    @property
    def storing(self) -> bool:
        # Once a record is invalid in an atomic import nothing will be kept: only check.
        return self.skip_invalid or not self.report.error_count

    def flush(self, batch: list[_Prepared]) -> None:
        if not batch:
            return
        session, project_id = self.session, self.project.id
        shas = {item.sha for item in batch}
        in_db = dict(session.execute(select(Document.text_sha256, Document.id).where(
            Document.project_id == project_id, Document.text_sha256.in_(shas))).all())
        ext_ids = {item.external_id for item in batch if item.external_id is not None}
        ext_in_db = dict(session.execute(select(Document.external_id, Document.text_sha256).where(
            Document.project_id == project_id, Document.external_id.in_(ext_ids))).all()) if ext_ids else {}
        owned_in_db: set[tuple] = set()
        assigned_in_db: dict[tuple, str] = {}
        if in_db:
            sha_of = {doc_id: sha for sha, doc_id in in_db.items()}
            for doc_id, user_id, kind in session.execute(select(
                    AnnotationSet.document_id, AnnotationSet.user_id, AnnotationSet.kind).where(
                    AnnotationSet.document_id.in_(sha_of))):
                owned_in_db.add((bytes.fromhex(sha_of[doc_id]), (kind, user_id)))
            for doc_id, user_id, status in session.execute(select(
                    Assignment.document_id, Assignment.user_id, Assignment.status).where(
                    Assignment.document_id.in_(sha_of))):
                assigned_in_db[(doc_id, user_id)] = status
        new_docs: list[_Prepared] = []
        sets: list[tuple[_Prepared, bytes]] = []
        duplicates: list[tuple[_Prepared, int | None, bytes]] = []
        for item in batch:
            digest = bytes.fromhex(item.sha)
            existing = in_db.get(item.sha)
            known = existing is not None or digest in self.created
            if not known:
                other = ext_in_db.get(item.external_id) if item.external_id is not None else None
                other = other or self.external.get(item.external_id)
                if item.external_id is not None and other is not None:
                    self.report.add_error(item.location, [
                        f"external id {item.external_id!r} is already used by another document."])
                    continue
                if item.external_id is not None:
                    self.external[item.external_id] = digest
                self.created[digest] = 0
                new_docs.append(item)
                if item.owner is not None:
                    sets.append((item, digest))
                    self.owned.add((digest, item.owner))
                continue
            if item.owner is None or (digest, item.owner) in self.owned or (digest, item.owner) in owned_in_db:
                duplicates.append((item, existing, digest))
                continue
            self.owned.add((digest, item.owner))
            sets.append((item, digest))
        if self.storing:
            self._insert_documents(new_docs)
            ids = dict(self.created)
            ids.update((bytes.fromhex(sha), doc_id) for sha, doc_id in in_db.items())
            self._insert_sets(sets, ids, assigned_in_db)
        # Reported once stored, so that a duplicate of a record of this batch names its id.
        for item, existing, digest in duplicates:
            self.report.add_duplicate(item, existing or self.created.get(digest))

    def _insert_documents(self, items: list[_Prepared]) -> None:
        if not items:
            return
        _add_tokens([item for item in items if item.tokens is None])
        writer = self.writer
        ids = writer.reserve("document", len(items))
        project_id, now = self.project.id, writer.now()
        writer.insert("document", ("id", "project_id", "external_id", "text", "text_sha256", "meta", "tokens",
                                   "lang", "created_at"),
                      [(doc_id, project_id, item.external_id, item.text, item.sha, item.meta,
                        item.tokens, item.lang, now)
                       for item, doc_id in zip(items, ids, strict=True)])
        for item, doc_id in zip(items, ids, strict=True):
            self.created[bytes.fromhex(item.sha)] = doc_id
        self.report.document_ids.extend(ids)
        self.report.created += len(ids)

    def _insert_sets(self, sets: list[tuple[_Prepared, bytes]], ids: dict[bytes, int],
                     assigned_in_db: dict[tuple, str]) -> None:
        if not sets:
            return
        writer = self.writer
        now = writer.now()
        set_ids = writer.reserve("annotation_set", len(sets))
        writer.insert("annotation_set", ("id", "document_id", "user_id", "kind", "version", "created_at",
                                         "updated_at"),
                      [(set_id, ids[digest], item.owner[1], item.owner[0], 1, now, now)
                       for (item, digest), set_id in zip(sets, set_ids, strict=True)])
        self.report.annotation_sets += len(set_ids)
        span_count = sum(len(item.spans) for item, _ in sets)
        span_ids = iter(writer.reserve("span", span_count)) if span_count else iter(())
        span_rows, relation_rows = [], []
        for (item, _), set_id in zip(sets, set_ids, strict=True):
            by_uuid = {}
            for span in item.spans:
                span_id = next(span_ids)
                by_uuid[span["uuid"]] = span_id
                span_rows.append((span_id, set_id, span["uuid"], span["start"], span["end"], span["label"],
                                  span["attrs"], now, now))
            relation_rows.extend((set_id, relation["uuid"], by_uuid[relation["head"]], by_uuid[relation["tail"]],
                                  relation["label"], relation["attrs"], now) for relation in item.relations)
        if span_rows:
            writer.insert("span", ("id", "set_id", "uuid", "start", "end", "label", "attrs", "created_at",
                                   "updated_at"), span_rows)
        if relation_rows:
            writer.insert("relation", ("set_id", "uuid", "head_id", "tail_id", "label", "attrs", "created_at"),
                          relation_rows)
        assignment_rows = []
        promote = []
        for item, digest in sets:
            kind, user_id = item.owner
            if kind != "manual":
                continue
            key = (ids[digest], user_id)
            status = assigned_in_db.get(key)
            if status is None:
                finished = now if item.status in ("submitted", "skipped") else None
                assignment_rows.append((key[0], user_id, item.status, now, finished, now, now))
                assigned_in_db[key] = item.status
            elif status == "assigned":
                promote.append(key)
        if assignment_rows:
            writer.insert("assignment", ("document_id", "user_id", "status", "started_at", "finished_at",
                                         "created_at", "updated_at"), assignment_rows)
        for document_id, user_id in promote:
            self.session.execute(update(Assignment).where(
                Assignment.document_id == document_id, Assignment.user_id == user_id,
                Assignment.status == "assigned").values(status="in_progress", started_at=now_utc(),
                                                        updated_at=now_utc()))

    @property
    def writer(self) -> "_Writer":
        if self._writer is None:
            self._writer = _Writer(self.session)
        return self._writer


class _Writer:
    """Inserts rows with ``COPY`` on PostgreSQL and ``executemany`` on SQLite, ids reserved up front.

    SQLAlchemy's bulk insert built each row's parameters in Python and spent more time there
    than the database spent storing them (bench/import.py); the rows here are plain tuples.
    Ids are reserved so that spans, relations and assignments can name their parents without
    a RETURNING round trip: from the sequence on PostgreSQL, and after the highest id on
    SQLite, where the import's BEGIN IMMEDIATE transaction holds the only write lock.
    """

    def __init__(self, session):
        self.connection = session.connection()
        self.dialect = self.connection.dialect
        self.postgres = self.dialect.name == "postgresql"
        self.dbapi = self.connection.connection.dbapi_connection
        self._to_db_time = Document.__table__.c.created_at.type.bind_processor(self.dialect)
        self._next: dict[str, int] = {}
        self._sequences: dict[str, str] = {}
        if self.postgres and self.connection.execute(text(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")).scalar():
            # The tokens (a few KiB of JSON per document) are compressed when stored; pglz took
            # longer than everything else the server does for a document. Reading is the same.
            self.connection.execute(text("SET LOCAL default_toast_compression = 'lz4'"))

    def now(self):
        # The column type's own conversion (naive UTC text on SQLite), done once for all rows.
        return self._to_db_time(now_utc())

    def reserve(self, table: str, count: int) -> list[int]:
        if self.postgres:
            with self.dbapi.cursor() as cursor:
                if table not in self._sequences:
                    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,))
                    self._sequences[table] = cursor.fetchone()[0]
                cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)",
                               (self._sequences[table], count))
                return [row[0] for row in cursor]
        start = self._next.get(table)
        if start is None:
            # Past every id ever given (AUTOINCREMENT's counter), not only past the rows left.
            start = self.connection.execute(text(
                f'SELECT MAX(COALESCE(MAX(id), 0), COALESCE((SELECT seq FROM sqlite_sequence '
                f"WHERE name = '{table}'), 0)) + 1 FROM \"{table}\"")).scalar()
        self._next[table] = start + count
        return list(range(start, start + count))

    def insert(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        """Insert ``rows``; JSON columns take JSON text."""
        names = ", ".join(f'"{c}"' for c in columns)
        cursor = self.dbapi.cursor()
        try:
            if self.postgres:
                # COPY costs the server a fraction of row-by-row INSERTs; in text format the
                # JSON text goes into jsonb columns as it is.
                with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                markers = ", ".join("?" * len(columns))
                cursor.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({markers})', rows)
        finally:
            cursor.close()


# ---------------------------------------------------------------------------------------------
# Reading documents

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


# --- stored tokens ---------------------------------------------------------------------------

@dataclass
class RetokenizeReport:
    """What :func:`retokenize_documents` did: documents checked, and those whose tokens changed."""

    checked: int = 0
    changed: int = 0
    dry_run: bool = False


def retokenize_documents(project: Project | None = None, *, dry_run: bool = False,
                         batch_size: int = 500) -> RetokenizeReport:
    """Tokenize stored documents again and store the tokens that differ; return the counts.

    Documents stored before tokens kept grapheme clusters whole have spaCy's own tokens, which
    split flags, ZWJ sequences and skin tones; they get the tokens an import gives now. Only
    documents whose tokens differ are written, all in one transaction, so a second run changes
    nothing. The text is read a batch at a time, by id.

    :param project: only this project's documents; every project's when None.
    :param dry_run: count what would change and store nothing.
    """
    report = RetokenizeReport(dry_run=dry_run)
    query = select(Document.id, Document.text, Document.lang, Document.tokens).order_by(Document.id)
    if project is not None:
        query = query.where(Document.project_id == project.id)
    last_id = 0
    # A dry run only reads: it need not wait for (or hold up) SQLite's writer.
    with nullcontext(db.session) if dry_run else write_transaction() as session:
        while rows := session.execute(query.where(Document.id > last_id).limit(batch_size)).all():
            last_id = rows[-1].id
            by_lang: dict[str, list] = {}
            for row in rows:
                by_lang.setdefault(row.lang or "en", []).append(row)
            for lang, group in by_lang.items():
                for row, tokens in zip(group, tokenize_many([row.text for row in group], lang), strict=True):
                    report.checked += 1
                    if tokens == row.tokens:
                        continue
                    report.changed += 1
                    if not dry_run:
                        session.execute(update(Document).where(Document.id == row.id).values(tokens=tokens))
    return report
