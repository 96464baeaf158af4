"""The JSONL record, the export's one encoding of a record: a contract (docs/design.md section 7).

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

There is one encoder, :func:`record_line`, which writes the line straight from the row, the
database's JSON text spliced in as it is. The dict form the CoNLL and spaCy writers (and
:func:`~annotator.services.exporting.iter_records`) read is that line parsed back, so the two
cannot drift apart.
"""

import bisect
import json
import json.encoder
import re
from collections.abc import Callable
from collections.abc import Iterator

from annotator.services.exporting.dataset import BATCH_SIZE
from annotator.services.exporting.dataset import aggregate_rows
from annotator.services.exporting.dataset import iter_export_rows
from annotator.services.exporting.filters import ExportFilters
from annotator.services.exporting.filters import split_of

SCHEMA_VERSION = "conflict-annotator/1"
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_LINE_BREAKS = (("\u2028", "\\u2028"), ("\u2029", "\\u2029"), ("\x85", "\\u0085"))
encode_string = json.encoder.encode_basestring  # json.dumps(str, ensure_ascii=False), in C


def _token_locator(raw: str) -> Callable[[int, int], tuple[int, int]]:
    """Return a function giving ``(token_start, token_end)`` for spans taken by start, from the stored tokens.

    A span that starts where a token starts and ends where one ends (the usual case) is found
    in the JSON text ``raw`` itself: ``[start, `` and ``, end]`` occur only there, and the
    number of ``[`` before each is the token's position plus one. Each search starts at the
    previous span's first token, so the text is read about once per record. Anything else is
    answered by bisecting the offsets, parsed on first need.
    """
    bounds: list[list[int]] = []

    def by_bisect(start: int, end: int) -> tuple[int, int]:
        if not bounds:
            tokens = json.loads(raw) or []
            bounds.extend(([t[0] for t in tokens], [t[1] for t in tokens]))
        return bisect.bisect_right(bounds[1], start), bisect.bisect_left(bounds[0], end)

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


def _raw_object(raw: str | None) -> str:
    return "{}" if raw is None or raw == "null" else raw  # SQLite's JSON null is the text "null"


def record_line(row, spans_aggregate: str, relations_aggregate: str, filters: ExportFilters) -> str:
    """Return the JSONL line of a record from its row and the aggregates of its spans and relations.

    The line is what ``json.dumps(record, ensure_ascii=False)`` would give for the record, line
    breaks escaped, newline-terminated; it is written by hand so the database's JSON text (meta,
    tokens, attrs) goes in as it is, never parsed and re-encoded.
    """
    text, string = row.text, encode_string
    locate, utf16 = _token_locator(row.tokens or "[]"), _utf16(text)
    spans, uuid_of = [], {}
    for (start, end, span_id, uuid, label), attrs in aggregate_rows(spans_aggregate):
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
        for (_, uuid, head, tail, label), attrs in aggregate_rows(relations_aggregate)])
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
    return escape_line_breaks(line)


def _string_or_null(value: str | None) -> str:
    return "null" if value is None else encode_string(value)


def escape_line_breaks(line: str) -> str:
    """Return ``line`` with U+2028, U+2029 and U+0085 escaped as JSON escapes them."""
    # JSON leaves these unescaped inside strings, but str.splitlines() and some JavaScript
    # readers break lines at them. They can only occur inside strings, where \\uXXXX is the
    # same character.
    if line.isascii():
        return line
    for raw, escaped in _LINE_BREAKS:
        if raw in line:
            line = line.replace(raw, escaped)
    return line


def iter_export_lines(filters: ExportFilters, *, batch_size: int = BATCH_SIZE) -> Iterator[str]:
    """Yield the JSONL lines of a resolved export, sorted (see :func:`iter_export_rows`)."""
    for row, spans, relations in iter_export_rows(filters, batch_size=batch_size):
        yield record_line(row, spans, relations, filters)


def iter_export_records(filters: ExportFilters, *, batch_size: int = BATCH_SIZE) -> Iterator[dict]:
    """Yield the records of a resolved export as dicts: its JSONL lines, parsed, so one encoder makes both."""
    loads = json.loads
    for line in iter_export_lines(filters, batch_size=batch_size):
        yield loads(line)
