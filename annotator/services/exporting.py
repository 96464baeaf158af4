"""Exports: the training data, streamed from the database in the formats trainers use.

One service, three ways out: the API (``GET /api/v1/projects/{pid}/export``), the admin page
and ``flask --app app export`` all call :func:`open_export`, which checks the filters before a
single byte is sent and returns an :class:`Export` whose :meth:`Export.chunks` streams the
file. Records come from :func:`iter_records`, which reads a server-side cursor (a named cursor
on PostgreSQL) in batches on a connection of its own, so memory stays flat however large the
project is, and the whole export sees one snapshot of the database. The spans and relations of
a batch come aggregated in SQL, one row per annotation set, not one row each.

What is exported
----------------
One record per (document, annotator): the annotator's manual annotation set on the document
(empty when they submitted without spans) together with the status of their assignment. The
``status`` filter is the assignment status (``submitted`` by default). Other filters:
annotators (usernames), documents (ids) and ``updated_since`` (the later of the set's and the
assignment's last change; inclusive, so feeding the newest ``updated_at`` of one export into
the next never misses a change).

The JSONL record (DESIGN.md section 7, a contract)
--------------------------------------------------
One line per record, UTF-8, ``json.dumps(..., ensure_ascii=False)`` with U+2028, U+2029 and
U+0085 escaped, so splitting on ``"\\n"`` and ``str.splitlines()`` both give one record per
line. Records are sorted by document id, then annotator username; spans by start, longest
first (ties as created); relations as created; so two exports of the same data are the same
bytes and later ones diff cleanly. ``meta`` and ``attrs`` are the database's own JSON text
(PostgreSQL orders JSONB keys by length, SQLite keeps them as stored)::

    {"schema_version": "conflict-annotator/1", "project": "pilot", "document_id": 12,
     "id": "A01", "text": "...", "text_sha256": "...", "lang": "en", "meta": {...},
     "offsets": {"unit": "codepoint", "end": "exclusive"}, "tokens": [[0, 6], [7, 11]],
     "annotator": "amira", "status": "submitted", "updated_at": "2026-11-27T10:00:00Z",
     "spans": [{"id": "3f2b...", "start": 58, "end": 80, "text": "almost 100 people dead",
                "label": "CASUALTY_CLAIM", "token_start": 12, "token_end": 16,
                "utf16": [58, 80], "attrs": {...}}],
     "relations": [{"id": "9a1c...", "head": "3f2b...", "tail": "77de...",
                    "label": "claimed_by", "attrs": {}}]}

- ``id`` is the document's external id (null when it has none); ``document_id`` is ours.
- ``start``/``end`` are code points into ``text``, end-exclusive: ``text[start:end] == span.text``.
  ``utf16`` holds the same offsets in UTF-16 code units, as JavaScript counts them.
- ``tokens`` are the stored ``[start, end)`` code-point offsets of the words (spaCy's
  rule-based tokenizer, computed at import); ``token_start``/``token_end`` (exclusive) are
  the tokens the span touches.
- ``head``/``tail`` of a relation are span ids of the same record.
- ``updated_at`` is UTC, whole seconds.
- With a split, each record also carries ``"split": "train" | "dev" | "test"``.

Splits
------
``split=(80, 10, 10)`` puts each document in train, dev or test by a seeded SHA-256 of its
text hash: deterministic, independent of ids and databases (the same article lands in the same
split in any project with the same seed), and every annotator of a document in the same split.

CoNLL and spaCy
---------------
Both are built from the stored tokens with spaCy's own helpers: a ``spacy.tokens.Doc`` is made
from the stored words and the whitespace between them (so ``doc.text`` is the stored text and
character offsets agree), spans are aligned to tokens with ``Doc.char_span(...,
alignment_mode="expand")`` (the same tokens as ``token_start``/``token_end``), and tags come
from ``offsets_to_biluo_tags`` and ``biluo_to_iob``.

- CoNLL: tab-separated, a ``# global.columns = TOKEN ACTOR WEAPON ...`` header, then one block
  per record: ``# key = value`` comment lines (document_id, id, annotator, status, text_sha256,
  split), one line per stored token, a blank line. Spans nest, so each label has its own BIO
  column; when spans of one label nest or overlap within a record, the inner ones go to further
  columns ``LABEL.2``, ``LABEL.3`` (as many as the export needs, found by a first pass).
- spaCy: a zip of ``.spacy`` DocBin files of at most :data:`SHARD_SIZE` docs
  (``corpus/000000.spacy``, or ``train/``, ``dev/``, ``test/`` with a split; ``spacy train``
  reads a directory of them). ``doc.spans["sc"]`` holds every span (``span.id_`` is the span
  id), ``doc.ents`` the outermost non-overlapping ones (``spacy.util.filter_spans``), and
  ``doc.user_data["conflict_annotator"]`` the record without text and tokens (ids, meta,
  attrs by span id, relations). One DocBin per shard keeps memory flat.
- With a split, CoNLL is a zip of ``train.conll``, ``dev.conll`` and ``test.conll``.
"""

import bisect
import hashlib
import io
import json
import json.encoder
import re
import tempfile
import zipfile
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Text
from sqlalchemy import and_
from sqlalchemy import cast
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import type_coerce

from annotator.errors import Invalid
from annotator.extensions import db
from annotator.models import ASSIGNMENT_STATUSES
from annotator.models import AnnotationSet
from annotator.models import Assignment
from annotator.models import Document
from annotator.models import Project
from annotator.models import Relation
from annotator.models import Span
from annotator.models import User
from annotator.models import as_utc

SCHEMA_VERSION = "conflict-annotator/1"
FORMATS = ("jsonl", "conll", "spacy")
SPLITS = ("train", "dev", "test")
DEFAULT_STATUS = ("submitted",)
DEFAULT_SEED = 0
# Records per database round trip: large enough that the per-query cost vanishes, small
# enough that a batch of texts and parsed token lists stays a few MiB.
BATCH_SIZE = 200
# Docs per .spacy file: a DocBin holds all its docs in memory until it is written.
SHARD_SIZE = 100
# Bytes gathered before a chunk is handed to the server: fewer, larger writes.
CHUNK_BYTES = 64 * 1024
# The offsets block of every record (one shared object: json.dumps only reads it).
OFFSETS = {"unit": "codepoint", "end": "exclusive"}
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_LINE_BREAKS = (("\u2028", "\\u2028"), ("\u2029", "\\u2029"), ("\x85", "\\u0085"))
_encode_string = json.encoder.encode_basestring  # json.dumps(str, ensure_ascii=False), in C
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same export is the same bytes


# --- Filters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportFilters:
    """What to export, checked against the database by :func:`resolve_filters`."""

    project_id: int
    project_name: str
    labels: tuple[str, ...]
    statuses: tuple[str, ...] = DEFAULT_STATUS
    user_ids: tuple[int, ...] | None = None
    document_ids: tuple[int, ...] | None = None
    updated_since: datetime | None = None
    split: tuple[int, int, int] | None = None
    seed: int = DEFAULT_SEED


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (str, int)):
        value = [value]
    items = []
    for item in value:
        if isinstance(item, str):
            items.extend(part.strip() for part in item.split(",") if part.strip())
        else:
            items.append(item)
    return items


def parse_split(value) -> tuple[int, int, int] | None:
    """Return train/dev/test percentages from ``"80,10,10"`` or a sequence of three numbers.

    :raise Invalid: unless there are three whole, non-negative percentages that sum to 100.
    """
    if value is None or value == "" or value == ():
        return None
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        numbers = tuple(int(str(p).strip()) for p in parts)
    except ValueError:
        numbers = ()
    if len(numbers) != 3 or any(n < 0 for n in numbers):
        raise Invalid("The split is not valid.",
                      {"split": ["Give three whole percentages for train, dev and test, e.g. 80,10,10."]})
    if sum(numbers) != 100:
        raise Invalid("The split is not valid.",
                      {"split": [f"The percentages must sum to 100, not {sum(numbers)}."]})
    return numbers


def resolve_filters(project: Project, *, status=DEFAULT_STATUS, annotators=None, document_ids=None,
                    updated_since=None, split=None, seed=DEFAULT_SEED) -> ExportFilters:
    """Check the filters of an export of ``project`` and return them resolved to ids.

    ``status``, ``annotators`` (usernames) and ``document_ids`` take one value, a sequence or
    comma-separated strings; ``updated_since`` is a datetime or ISO 8601 string (naive means
    UTC); ``split`` is ``"80,10,10"`` or three numbers.

    :raise Invalid: naming the field of an unknown status, annotator or document, a bad date,
        seed or split.
    """
    errors: dict[str, list[str]] = {}
    statuses = tuple(dict.fromkeys(_as_list(status))) or DEFAULT_STATUS
    unknown = [s for s in statuses if s not in ASSIGNMENT_STATUSES]
    if unknown:
        errors["status"] = [f"Unknown status {s!r}; use {', '.join(ASSIGNMENT_STATUSES)}." for s in unknown]
    user_ids = None
    names = list(dict.fromkeys(str(n) for n in _as_list(annotators)))
    if names:
        found = dict(db.session.execute(select(User.username, User.id).where(User.username.in_(names))).all())
        missing = [n for n in names if n not in found]
        if missing:
            errors["annotator"] = [f"No user {n!r}." for n in missing]
        user_ids = tuple(sorted(found.values()))
    doc_ids = None
    raw_docs = _as_list(document_ids)
    if raw_docs:
        ids, bad = [], []
        for ref in raw_docs:
            try:
                ids.append(int(ref))
            except (TypeError, ValueError):
                bad.append(ref)
        ids = sorted(set(ids))
        known = set(db.session.scalars(select(Document.id).where(
            Document.project_id == project.id, Document.id.in_(ids)))) if ids else set()
        bad += [i for i in ids if i not in known]
        if bad:
            errors["document"] = [f"No document {ref!r} in this project." for ref in bad]
        doc_ids = tuple(ids)
    since = updated_since
    if isinstance(since, str) and since.strip():
        try:
            since = as_utc(datetime.fromisoformat(since.strip().replace("Z", "+00:00")))
        except (ValueError, OverflowError):
            errors["updated_since"] = ["Use an ISO 8601 date and time, e.g. 2026-11-27T10:00:00Z."]
            since = None
    elif isinstance(since, datetime):
        since = as_utc(since)
    else:
        since = None
    if isinstance(seed, bool) or not isinstance(seed, int):
        try:
            seed = int(seed)
        except (TypeError, ValueError):
            errors["seed"] = ["Must be a whole number."]
            seed = DEFAULT_SEED
    try:
        ratios = parse_split(split)
    except Invalid as error:
        errors.update(error.errors)
        ratios = None
    if errors:
        raise Invalid("The export filters are not valid.", errors)
    labels = tuple(label["name"] for label in (project.schema or {}).get("labels", []))
    return ExportFilters(project.id, project.name, labels, statuses, user_ids, doc_ids,
                         since, ratios, seed)


def split_of(text_sha256: str, ratios: tuple[int, int, int], seed: int = DEFAULT_SEED) -> str:
    """Return ``"train"``, ``"dev"`` or ``"test"`` for a document, by a seeded hash of its text hash."""
    digest = hashlib.sha256(f"{seed}:{text_sha256}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") * 100 / 2**64
    if point < ratios[0]:
        return "train"
    if point < ratios[0] + ratios[1]:
        return "dev"
    return "test"


# --- Queries ----------------------------------------------------------------------------------


def _record_conditions(filters: ExportFilters) -> list:
    conditions = [Document.project_id == filters.project_id, Assignment.status.in_(filters.statuses)]
    if filters.user_ids is not None:
        conditions.append(Assignment.user_id.in_(filters.user_ids))
    if filters.document_ids is not None:
        conditions.append(Assignment.document_id.in_(filters.document_ids))
    if filters.updated_since is not None:
        since = filters.updated_since
        conditions.append(or_(Assignment.updated_at >= since, AnnotationSet.updated_at >= since))
    return conditions


def _set_join():
    return and_(AnnotationSet.document_id == Assignment.document_id,
                AnnotationSet.user_id == Assignment.user_id, AnnotationSet.kind == "manual")


def _filtered_sets(filters: ExportFilters):
    return (
        select(AnnotationSet.id)
        .select_from(Assignment)
        .join(Document, Document.id == Assignment.document_id)
        .join(AnnotationSet, _set_join())
        .where(*_record_conditions(filters))
    )


def count_export(filters: ExportFilters) -> dict:
    """Return how many records, documents, spans and relations the export holds (and per split)."""
    base = (select(Assignment.document_id).select_from(Assignment)
            .join(Document, Document.id == Assignment.document_id)
            .outerjoin(AnnotationSet, _set_join()).where(*_record_conditions(filters)))
    counted = base.subquery()
    records, documents = db.session.execute(
        select(func.count(), func.count(func.distinct(counted.c.document_id))).select_from(counted)).one()
    sets = _filtered_sets(filters).scalar_subquery()
    spans = db.session.scalar(select(func.count()).select_from(Span).where(Span.set_id.in_(sets)))
    relations = db.session.scalar(select(func.count()).select_from(Relation).where(Relation.set_id.in_(sets)))
    summary = {"records": records, "documents": documents, "spans": spans, "relations": relations}
    if filters.split:
        per_split = dict.fromkeys(SPLITS, 0)
        rows = db.session.execute(
            select(Document.text_sha256, func.count()).select_from(Assignment)
            .join(Document, Document.id == Assignment.document_id)
            .outerjoin(AnnotationSet, _set_join())
            .where(*_record_conditions(filters)).group_by(Document.text_sha256))
        for sha, n in rows:
            per_split[split_of(sha, filters.split, filters.seed)] += n
        summary["splits"] = per_split
    return summary


def _export_connection():
    """Open a read-only connection whose reads all see one snapshot."""
    connection = db.engine.connect()
    if connection.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    # SQLite: the connection's one deferred transaction reads one WAL snapshot.
    return connection


# --- Records ----------------------------------------------------------------------------------
#
# The records query returns one row per record: the document and the assignment, and the set's
# spans and relations aggregated in SQL. Reading those as ~25 rows per record through the
# driver was half the export's time; now a json.loads and a split per aggregate, both in C,
# take them apart. The JSON columns (meta, tokens, attrs) arrive as the database's own JSON
# text: the JSONL writer splices that text into the line instead of parsing and re-encoding it
# (for tokens the two would cost more than everything else together), and the dict records
# parse it.

# Between the attrs of an aggregate: JSON text never holds a raw control character.
_SEPARATOR = "\x1e"


def _aggregate(dialect: str, columns: list, attrs):
    """Return an SQL aggregate of a set's rows: a JSON array of ``columns`` arrays, then the attrs.

    Each row's ``attrs`` JSON text follows the array after a :data:`_SEPARATOR`, so it is
    neither escaped in SQL nor unescaped in Python; ``[]`` for no rows. Both parts come from
    one pass over the rows, so they are in the same order, which is the database's (SQLite
    before 3.44 cannot order inside an aggregate): the columns start with what :func:`_rows`
    sorts by.
    """
    attrs = func.coalesce(cast(attrs, Text), "null")
    if dialect == "postgresql":
        arrays = cast(func.json_agg(func.json_build_array(*columns)), Text)
        texts = func.string_agg(attrs, _SEPARATOR)
    else:
        arrays = type_coerce(func.json_group_array(func.json_array(*columns)), Text)
        texts = func.group_concat(attrs, _SEPARATOR)
    return func.coalesce(arrays + _SEPARATOR + texts, "[]")


def _rows(aggregate: str) -> list[tuple[list, str]]:
    """Return the ``(columns, attrs JSON)`` pairs of an :func:`_aggregate`, sorted by their columns."""
    arrays, _, texts = aggregate.partition(_SEPARATOR)
    columns = json.loads(arrays)
    return sorted(zip(columns, texts.split(_SEPARATOR) if columns else (), strict=True))


def _records_query(filters: ExportFilters):
    return (
        select(Assignment.document_id, Assignment.status, Assignment.updated_at, User.username,
               Document.external_id, Document.text, Document.text_sha256, Document.lang,
               cast(Document.meta, Text).label("meta"), cast(Document.tokens, Text).label("tokens"),
               AnnotationSet.id.label("set_id"), AnnotationSet.updated_at.label("set_updated_at"))
        .select_from(Assignment)
        .join(Document, Document.id == Assignment.document_id)
        .join(User, User.id == Assignment.user_id)
        .outerjoin(AnnotationSet, _set_join())
        .where(*_record_conditions(filters))
        .order_by(Assignment.document_id, User.username)
    )


def _aggregates_query(dialect: str, set_ids: list[int], model, columns: list):
    """Return a query of ``(set id, aggregate)`` for the sets of ``set_ids`` that have rows of ``model``."""
    return (select(model.set_id, _aggregate(dialect, columns, model.attrs))
            .where(model.set_id.in_(set_ids)).group_by(model.set_id))


def _token_locator(raw: str, parsed: list | None) -> Callable[[int, int], tuple[int, int]]:
    """Return a function giving ``(token_start, token_end)`` for spans taken by start, from the stored tokens.

    Without ``parsed``, a span that starts where a token starts and ends where one ends (the
    usual case) is found in the JSON text itself: ``[start, `` and ``, end]`` occur only there,
    and the number of ``[`` before each is the token's position plus one. Each search starts
    at the previous span's first token, so the text is read about once per record. Anything
    else, and every span once ``parsed`` is given, is answered by bisecting the parsed offsets.
    """
    bounds: list[list[int]] = []

    def by_bisect(start: int, end: int) -> tuple[int, int]:
        if not bounds:
            tokens = parsed if parsed is not None else (json.loads(raw) or [])
            bounds.extend(([t[0] for t in tokens], [t[1] for t in tokens]))
        return bisect.bisect_right(bounds[1], start), bisect.bisect_left(bounds[0], end)

    if parsed is not None:
        return by_bisect
    find, count = raw.find, raw.count
    at, index = 0, -1  # the previous first token's "[" and its position (at first, the array's "[")

    def locate(start: int, end: int) -> tuple[int, int]:
        nonlocal at, index
        first = find(f"[{start}, ", at)
        if first >= 0:
            last = find(f", {end}]", first)
            if last >= 0:
                index += count("[", at, first)
                at = first
                return index, index + count("[", first, last)
        return by_bisect(start, end)

    return locate


def _utf16(text: str) -> Callable[[int], int] | None:
    """Return a map from code-point offsets of ``text`` to UTF-16 offsets (JavaScript's).

    None when the two are the same (no character beyond U+FFFF).
    """
    if text.isascii():
        return None
    astral = [m.start() for m in _ASTRAL.finditer(text)]
    if not astral:
        return None
    # Each astral character before the offset takes two UTF-16 units instead of one.
    return lambda offset: offset + bisect.bisect_left(astral, offset)


def _timestamp(*moments) -> str | None:
    present = [m for m in moments if m is not None]
    return max(present).strftime("%Y-%m-%dT%H:%M:%SZ") if present else None


def _json_object(raw: str | None) -> dict:
    value = json.loads(raw) if raw else None
    return value if isinstance(value, dict) else {}


def _record_dict(row, spans_aggregate: str, relations_aggregate: str, filters: ExportFilters) -> dict:
    text, tokens = row.text, json.loads(row.tokens or "[]") or []
    locate, utf16 = _token_locator(row.tokens, tokens), _utf16(text)
    spans, uuid_of = [], {}
    for (start, end, span_id, uuid, label), attrs in _rows(spans_aggregate):
        end = -end
        first, last = locate(start, end)
        spans.append({"id": uuid, "start": start, "end": end, "text": text[start:end], "label": label,
                      "token_start": first, "token_end": last,
                      "utf16": [utf16(start), utf16(end)] if utf16 else [start, end], "attrs": _json_object(attrs)})
        uuid_of[span_id] = uuid
    relations = [{"id": uuid, "head": uuid_of.get(head), "tail": uuid_of.get(tail), "label": label,
                  "attrs": _json_object(attrs)} for (_, uuid, head, tail, label), attrs in _rows(relations_aggregate)]
    record = {
        "schema_version": SCHEMA_VERSION, "project": filters.project_name, "document_id": row.document_id,
        "id": row.external_id, "text": text, "text_sha256": row.text_sha256, "lang": row.lang,
        "meta": _json_object(row.meta), "offsets": dict(OFFSETS), "tokens": tokens,
        "annotator": row.username, "status": row.status,
        "updated_at": _timestamp(row.updated_at, row.set_updated_at),
        "spans": spans, "relations": relations,
    }
    if filters.split:
        record["split"] = split_of(row.text_sha256, filters.split, filters.seed)
    return record


def _raw_object(raw: str | None) -> str:
    return "{}" if raw is None or raw == "null" else raw  # SQLite's JSON null is the text "null"


def _record_line(row, spans_aggregate: str, relations_aggregate: str, filters: ExportFilters) -> str:
    """Return the JSONL line of a record: what ``jsonl_line(_record_dict(...))`` gives, built faster."""
    text, string = row.text, _encode_string
    locate, utf16 = _token_locator(row.tokens or "[]", None), _utf16(text)
    spans, uuid_of = [], {}
    for (start, end, span_id, uuid, label), attrs in _rows(spans_aggregate):
        end = -end
        first, last = locate(start, end)
        uuid_of[span_id] = uuid = string(uuid)
        spans.append(
            f'{{"id": {uuid}, "start": {start}, "end": {end}, "text": {string(text[start:end])}, '
            f'"label": {string(label)}, "token_start": {first}, "token_end": {last}, '
            f'"utf16": [{utf16(start) if utf16 else start}, {utf16(end) if utf16 else end}], '
            f'"attrs": {"{}" if attrs == "null" else attrs}}}')
    relations = ", ".join([
        f'{{"id": {string(uuid)}, "head": {uuid_of.get(head, "null")}, "tail": {uuid_of.get(tail, "null")}, '
        f'"label": {string(label)}, "attrs": {"{}" if attrs == "null" else attrs}}}'
        for (_, uuid, head, tail, label), attrs in _rows(relations_aggregate)])
    updated_at = _timestamp(row.updated_at, row.set_updated_at)
    split = f', "split": "{split_of(row.text_sha256, filters.split, filters.seed)}"' if filters.split else ""
    line = (
        f'{{"schema_version": "{SCHEMA_VERSION}", "project": {string(filters.project_name)}, '
        f'"document_id": {row.document_id}, "id": {_string_or_null(row.external_id)}, "text": {string(text)}, '
        f'"text_sha256": {string(row.text_sha256)}, "lang": {string(row.lang)}, "meta": {_raw_object(row.meta)}, '
        f'"offsets": {{"unit": "codepoint", "end": "exclusive"}}, "tokens": {row.tokens or "[]"}, '
        f'"annotator": {string(row.username)}, "status": {string(row.status)}, '
        f'"updated_at": {_string_or_null(updated_at)}, "spans": [{", ".join(spans)}], '
        f'"relations": [{relations}]{split}}}\n'
    )
    return _escape_line_breaks(line)


def _string_or_null(value: str | None) -> str:
    return "null" if value is None else _encode_string(value)


def _escape_line_breaks(line: str) -> str:
    # JSON leaves these unescaped inside strings, but str.splitlines() and some JavaScript
    # readers break lines at them. They can only occur inside strings, where \\uXXXX is the
    # same character.
    if line.isascii():
        return line
    for raw, escaped in _LINE_BREAKS:
        if raw in line:
            line = line.replace(raw, escaped)
    return line


def iter_export_rows(filters: ExportFilters, *, batch_size: int = BATCH_SIZE) -> Iterator[tuple[Any, str, str]]:
    """Yield each record's row with the :func:`_aggregate` of its spans and of its relations, sorted.

    The rows come from a server-side cursor (``yield_per``: a named cursor on PostgreSQL) in
    batches; the spans and the relations of a batch's sets, one row per set, with one query
    each. The connection is the export's own and is closed when the generator finishes or is
    closed.
    """
    connection = _export_connection()
    dialect = connection.dialect.name
    span_columns = [Span.start, -Span.end, Span.id, Span.uuid, Span.label]  # sorted: by start, longest first
    relation_columns = [Relation.id, Relation.uuid, Relation.head_id, Relation.tail_id, Relation.label]
    try:
        result = connection.execution_options(yield_per=batch_size).execute(_records_query(filters))
        for batch in result.partitions():
            set_ids = [row.set_id for row in batch if row.set_id is not None]
            spans, relations = {}, {}
            if set_ids:
                spans = dict(connection.execute(_aggregates_query(dialect, set_ids, Span, span_columns)).all())
                relations = dict(connection.execute(
                    _aggregates_query(dialect, set_ids, Relation, relation_columns)).all())
            for row in batch:
                yield row, spans.get(row.set_id, "[]"), relations.get(row.set_id, "[]")
    finally:
        connection.close()


def iter_export_records(filters: ExportFilters, *, batch_size: int = BATCH_SIZE) -> Iterator[dict]:
    """Yield the records of a resolved export as dicts, sorted (see :func:`iter_export_rows`)."""
    for row, spans, relations in iter_export_rows(filters, batch_size=batch_size):
        yield _record_dict(row, spans, relations, filters)


def iter_export_lines(filters: ExportFilters, *, batch_size: int = BATCH_SIZE) -> Iterator[str]:
    """Yield the JSONL lines of a resolved export, sorted (see :func:`iter_export_rows`)."""
    for row, spans, relations in iter_export_rows(filters, batch_size=batch_size):
        yield _record_line(row, spans, relations, filters)


def iter_records(project: Project, *, status=DEFAULT_STATUS, annotators=None, document_ids=None,
                 updated_since=None, split=None, seed=DEFAULT_SEED, batch_size: int = BATCH_SIZE) -> Iterator[dict]:
    """Yield the export records of ``project`` (the JSONL record as dicts), sorted.

    :raise Invalid: at the first ``next()``, for filters :func:`resolve_filters` refuses.
    """
    filters = resolve_filters(project, status=status, annotators=annotators, document_ids=document_ids,
                              updated_since=updated_since, split=split, seed=seed)
    yield from iter_export_records(filters, batch_size=batch_size)


# --- JSONL ------------------------------------------------------------------------------------


def jsonl_line(record: dict) -> str:
    """Return one record as a JSONL line: no raw line separator of any kind, newline-terminated."""
    return _escape_line_breaks(json.dumps(record, ensure_ascii=False) + "\n")


# --- spaCy Docs and CoNLL ---------------------------------------------------------------------


def _spacy():
    # spaCy is imported on first use: the JSONL export never pays for it.
    import spacy.training
    import spacy.util
    import srsly.msgpack
    from spacy.tokens import Doc
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    # DocBin.add packs each doc's spans and user data with srsly's msgpack, whose registries
    # rescan every installed package's entry points on each call (about 1 ms, three times per
    # doc). When no package registers msgpack hooks there, the scan finds nothing: skip it.
    for registry in (srsly.msgpack.msgpack_encoders, srsly.msgpack.msgpack_decoders):
        if registry.entry_points and not registry.get_entry_points():
            registry.entry_points = False
    return spacy, Doc, DocBin, Vocab


def make_doc(vocab, text: str, tokens: list[list[int]]):
    """Return a spaCy Doc of the stored tokens whose ``text`` is exactly ``text``.

    Whitespace between stored tokens becomes trailing spaces and whitespace tokens, as spaCy's
    own tokenizer makes them, so character offsets into the Doc are offsets into ``text``.
    Returns the Doc, the stored tokens' words and, for each stored token, its index in the Doc.
    """
    _, Doc, _, _ = _spacy()
    words = [text[start:end] for start, end in tokens]
    # gaps[i] is the whitespace before stored token i; gaps[-1] follows the last one.
    gaps = [text[a:b] for a, b in zip([0, *(t[1] for t in tokens)], [*(t[0] for t in tokens), len(text)],
                                      strict=True)]
    spaces = [gap[:1] == " " for gap in gaps[1:]]
    # Whitespace beyond one trailing space (newlines, runs of spaces) becomes a token of its own.
    extra = [(i, gap[1:] if i and spaces[i - 1] else gap) for i, gap in enumerate(gaps)
             if gap and (gap != " " or not i)]
    extra = [(i, rest) for i, rest in extra if rest]
    if not extra:
        return Doc(vocab, words=list(words), spaces=spaces), words, list(range(len(words)))
    doc_words, doc_spaces, positions = list(words), list(spaces), []
    for i, rest in reversed(extra):
        doc_words.insert(i, rest)
        doc_spaces.insert(i, False)
    shift = 0
    pending = iter(extra)
    following = next(pending, None)
    for k in range(len(words)):
        while following is not None and following[0] <= k:
            shift += 1
            following = next(pending, None)
        positions.append(k + shift)
    return Doc(vocab, words=doc_words, spaces=doc_spaces), words, positions


def plan_layers(spans: Iterable[tuple[int, int]]) -> list[int]:
    """Return a layer for each ``(start, end)`` span of one label, outermost spans in layer 0.

    Spans are taken by start, longest first; each goes to the first layer it does not
    overlap, so nested or crossing spans of one label never share a layer.
    """
    spans = list(spans)
    order = sorted(range(len(spans)), key=lambda i: (spans[i][0], -spans[i][1]))
    layer_ends: list[int] = []
    layers = [0] * len(spans)
    for i in order:
        start, end = spans[i]
        for layer, last_end in enumerate(layer_ends):
            if last_end <= start:
                layer_ends[layer] = end
                layers[i] = layer
                break
        else:
            layers[i] = len(layer_ends)
            layer_ends.append(end)
    return layers


def plan_conll_columns(filters: ExportFilters) -> list[tuple[str, int]]:
    """Return the ``(label, layer)`` tag columns a CoNLL export needs, in schema label order.

    A first pass over the spans (offsets only) finds, per label, how many spans of that label
    ever overlap in one record.
    """
    depth: dict[str, int] = {}
    connection = _export_connection()
    try:
        query = (select(Span.set_id, Span.label, Span.start, Span.end)
                 .where(Span.set_id.in_(_filtered_sets(filters).scalar_subquery()))
                 .order_by(Span.set_id, Span.label))
        rows = connection.execution_options(yield_per=5000).execute(query)
        for (_, label), group in groupby(rows, key=lambda r: (r.set_id, r.label)):
            layers = plan_layers((r.start, r.end) for r in group)
            depth[label] = max(depth.get(label, 0), max(layers) + 1)
    finally:
        connection.close()
    labels = list(filters.labels) + sorted(set(depth) - set(filters.labels))
    return [(label, layer) for label in labels for layer in range(max(1, depth.get(label, 1)))]


def column_name(label: str, layer: int) -> str:
    """Return the CoNLL column name of a label's layer: ``LOCATION``, ``LOCATION.2``..."""
    return label if layer == 0 else f"{label}.{layer + 1}"


def conll_header(columns: list[tuple[str, int]]) -> str:
    """Return the first lines of a CoNLL file: the format and the column names."""
    names = " ".join(["TOKEN"] + [column_name(label, layer) for label, layer in columns])
    return f"# {SCHEMA_VERSION} conll\n# global.columns = {names}\n\n"


def conll_block(record: dict, columns: list[tuple[str, int]], vocab) -> str:
    """Return one record as a CoNLL block: comment lines, one line per stored token, a blank line.

    Each span is aligned to tokens by ``Doc.char_span(..., alignment_mode="expand")`` (the
    tokens ``token_start``/``token_end`` name); the tags of a label layer are spaCy's entity
    IOB codes once the layer's spans are set as the Doc's entities.
    """
    doc, words, positions = make_doc(vocab, record["text"], record["tokens"])
    index = {column: i for i, column in enumerate(columns)}
    per_column: list[list] = [[] for _ in columns]
    dropped = []
    by_label: dict[str, list[dict]] = {}
    for span in record["spans"]:
        by_label.setdefault(span["label"], []).append(span)
    for label, spans in by_label.items():
        for span, layer in zip(spans, plan_layers((s["start"], s["end"]) for s in spans), strict=True):
            aligned = doc.char_span(span["start"], span["end"], label=label, alignment_mode="expand")
            column = index.get((label, layer))
            # Spans apart in characters may meet once widened to whole tokens: the next layer.
            while column is not None and aligned is not None and any(
                    other.start < aligned.end and aligned.start < other.end for other in per_column[column]):
                layer += 1
                column = index.get((label, layer))
            if column is None or aligned is None:
                dropped.append(span["id"])
                continue
            per_column[column].append(aligned)
    outside = ["O"] * len(words)
    tags = []
    for (label, _), spans in zip(columns, per_column, strict=True):
        if not spans:
            tags.append(outside)
            continue
        doc.set_ents(spans, default="outside")
        codes = doc.to_array("ENT_IOB").tolist()  # spaCy's IOB codes: 3 begin, 1 inside, 2 outside
        begin, inside = "B-" + label, "I-" + label
        tags.append([begin if codes[p] == 3 else inside if codes[p] == 1 else "O" for p in positions])
    lines = [f"# document_id = {record['document_id']}",
             f"# id = {_comment_value(record['id'])}",
             f"# annotator = {_comment_value(record['annotator'])}",
             f"# status = {record['status']}",
             f"# text_sha256 = {record['text_sha256']}"]
    if "split" in record:
        lines.append(f"# split = {record['split']}")
    if dropped:
        lines.append(f"# dropped = {' '.join(_comment_value(d) for d in dropped)}")
    lines.extend("\t".join(row) for row in zip(words, *tags, strict=True))
    return "\n".join(lines) + "\n\n"


def _comment_value(value) -> str:
    # A comment is one line: escape line breaks the way JSON would.
    return "" if value is None else _escape_line_breaks(_encode_string(str(value))[1:-1])


def record_doc(record: dict, vocab):
    """Return one record as a spaCy Doc: every span in ``doc.spans["sc"]``, the outermost in ``doc.ents``."""
    spacy, _, _, _ = _spacy()
    doc, _, _ = make_doc(vocab, record["text"], record["tokens"])
    spans = []
    for span in record["spans"]:
        aligned = doc.char_span(span["start"], span["end"], label=span["label"], alignment_mode="expand",
                                span_id=span["id"])
        if aligned is not None:
            spans.append(aligned)
    doc.spans["sc"] = spans
    doc.ents = spacy.util.filter_spans(spans)
    doc.user_data["conflict_annotator"] = {
        key: value for key, value in record.items() if key not in ("text", "tokens", "spans", "offsets")
    } | {"attrs": {span["id"]: span["attrs"] for span in record["spans"]}}
    return doc


# --- Writers ----------------------------------------------------------------------------------


class _Sink(io.RawIOBase):
    """A write-only, unseekable stream whose bytes are taken out as they come (a streamed zip)."""

    def __init__(self):
        super().__init__()
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _zip_info(name: str, compress: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def _buffered(pieces: Iterable[str]) -> Iterator[bytes]:
    """Encode text pieces as UTF-8 and hand them on in chunks of about :data:`CHUNK_BYTES`."""
    buffer: list[str] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= CHUNK_BYTES:
            yield "".join(buffer).encode("utf-8")
            buffer.clear()
            size = 0
    if buffer:
        yield "".join(buffer).encode("utf-8")


def iter_conll(records: Iterable[dict], columns: list[tuple[str, int]]) -> Iterator[str]:
    """Yield a CoNLL file: the header, then one block per record."""
    _, _, _, Vocab = _spacy()
    yield conll_header(columns)
    vocab = Vocab()
    for n, record in enumerate(records, 1):
        yield conll_block(record, columns, vocab)
        if n % SHARD_SIZE == 0:
            vocab = Vocab()  # a fresh string store now and then keeps memory flat


def _iter_conll_zip(records: Iterable[dict], columns: list[tuple[str, int]]) -> Iterator[bytes]:
    """Stream a zip of train.conll, dev.conll and test.conll in one pass over the records.

    train.conll (the largest) is written into the zip as it comes; dev and test wait in
    temporary files and follow it.
    """
    _, _, _, Vocab = _spacy()
    sink = _Sink()
    header = conll_header(columns).encode("utf-8")
    with zipfile.ZipFile(sink, "w") as archive, tempfile.TemporaryFile() as dev, \
            tempfile.TemporaryFile() as test:
        spools = {"dev": dev, "test": test}
        for spool in spools.values():
            spool.write(header)
        with archive.open(_zip_info("train.conll", True), "w", force_zip64=True) as train:
            train.write(header)
            vocab = Vocab()
            for n, record in enumerate(records, 1):
                block = conll_block(record, columns, vocab).encode("utf-8")
                if record["split"] == "train":
                    train.write(block)
                    yield sink.take()
                else:
                    spools[record["split"]].write(block)
                if n % SHARD_SIZE == 0:
                    vocab = Vocab()
        yield sink.take()
        for name in ("dev", "test"):
            spool = spools[name]
            spool.seek(0)
            with archive.open(_zip_info(f"{name}.conll", True), "w", force_zip64=True) as entry:
                while chunk := spool.read(CHUNK_BYTES):
                    entry.write(chunk)
                    yield sink.take()
    yield sink.take()


def _iter_spacy_zip(records: Iterable[dict], split: bool) -> Iterator[bytes]:
    """Stream a zip of DocBin shards, ``corpus/`` or one folder per split."""
    _, _, DocBin, Vocab = _spacy()
    sink = _Sink()
    attrs = ["ORTH", "SPACY", "ENT_IOB", "ENT_TYPE", "ENT_ID"]

    def new_shard():
        return {"bin": DocBin(attrs=attrs, store_user_data=True), "vocab": Vocab(), "count": 0}

    shards: dict[str, dict] = {}
    numbers: dict[str, int] = {}
    with zipfile.ZipFile(sink, "w") as archive:

        def flush(folder):
            shard = shards.pop(folder)
            number = numbers.get(folder, 0)
            numbers[folder] = number + 1
            # DocBin files are zlib-compressed already: stored as they are.
            archive.writestr(_zip_info(f"{folder}/{number:06d}.spacy", False), shard["bin"].to_bytes())

        for record in records:
            folder = record["split"] if split else "corpus"
            shard = shards.get(folder) or shards.setdefault(folder, new_shard())
            shard["bin"].add(record_doc(record, shard["vocab"]))
            shard["count"] += 1
            if shard["count"] >= SHARD_SIZE:
                flush(folder)
                yield sink.take()
        for folder in [f for f in ("corpus", *SPLITS) if f in shards]:
            flush(folder)
            yield sink.take()
    yield sink.take()


# --- The export -------------------------------------------------------------------------------


@dataclass
class Export:
    """A checked export, ready to stream: its file name, media type and bytes."""

    filters: ExportFilters
    format: str
    filename: str
    mimetype: str
    columns: list[tuple[str, int]] | None = None

    @staticmethod
    def _counted(items: Iterable, progress: Callable[[], None] | None) -> Iterator:
        for item in items:
            yield item
            if progress is not None:
                progress()

    def chunks(self, progress: Callable[[], None] | None = None) -> Iterator[bytes]:
        """Yield the file's bytes in chunks, reading the database as it goes."""
        if self.format == "conll" and self.columns is None:
            # Planned here, not in open_export: the response has started by now.
            self.columns = plan_conll_columns(self.filters)
        if self.format == "jsonl":
            yield from _buffered(self._counted(iter_export_lines(self.filters), progress))
            return
        records = self._counted(iter_export_records(self.filters), progress)
        if self.format == "conll" and not self.filters.split:
            yield from _buffered(iter_conll(records, self.columns))
        elif self.format == "conll":
            yield from (chunk for chunk in _iter_conll_zip(records, self.columns) if chunk)
        else:
            yield from (chunk for chunk in _iter_spacy_zip(records, bool(self.filters.split)) if chunk)

    def write(self, handle, progress: Callable[[], None] | None = None) -> None:
        """Write the whole file to a binary ``handle``."""
        for chunk in self.chunks(progress):
            handle.write(chunk)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:60]


def export_filename(project: Project, fmt: str, split: bool) -> str:
    """Return the download name: the project's name as an ASCII slug, and the format's extension."""
    stem = _slug(project.name) or f"project-{project.id}"
    if fmt == "jsonl":
        return f"{stem}.jsonl"
    if fmt == "conll":
        return f"{stem}-conll.zip" if split else f"{stem}.conll"
    return f"{stem}-spacy.zip"


def open_export(project: Project, format: str = "jsonl", **options) -> Export:  # noqa: A002
    """Check an export of ``project`` and return it ready to stream (see :func:`resolve_filters`).

    :raise Invalid: for an unknown format (field ``format``) or filter.
    """
    if format not in FORMATS:
        errors = {"format": [f"Unknown format {format!r}; use {', '.join(FORMATS)}."]}
        try:
            resolve_filters(project, **options)
        except Invalid as error:
            errors.update(error.errors)
        raise Invalid("The export filters are not valid.", errors)
    filters = resolve_filters(project, **options)
    split = bool(filters.split)
    if format == "jsonl":
        mimetype = "application/x-ndjson; charset=utf-8"
    elif format == "conll" and not split:
        mimetype = "text/plain; charset=utf-8"
    else:
        mimetype = "application/zip"
    return Export(filters, format, export_filename(project, format, split), mimetype)
