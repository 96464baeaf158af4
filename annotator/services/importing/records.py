"""Checking one record: its text normalised and cleaned, its owner, its spans and relations.

Every rule here is a pure function of the record and the import's :class:`~.base.Context`,
so that worker processes (:mod:`.pool`) can apply them as well as the importing process.
"""

import bisect
import hashlib
import json
import os
import re

from annotator.choices import ASSIGNMENT_STATUSES
from annotator.services.importing.base import Context
from annotator.services.importing.base import Prepared
from annotator.services.importing.base import Unreadable
from annotator.services.importing.base import bad_character
from annotator.services.importing.base import check_json_value
from annotator.services.importing.cleaning import clean
from annotator.services.label_schema import attribute_errors
from annotator.services.label_schema import overlap_error
from annotator.services.label_schema import relation_error
from annotator.services.label_schema import span_errors
from annotator.services.text import BOM
from annotator.services.text import Graphemes
from annotator.services.text import OffsetMap
from annotator.services.text import TextError
from annotator.services.text import normalize_text
from annotator.services.text import tokenize_many

SCHEMA_VERSION = "conflict-annotator/1"
RECORD_FIELDS = {"text", "id", "external_id", "meta", "spans", "relations"}
# Fields of the JSONL export record (docs/design.md section 7), so that an export imports as is.
EXPORT_FIELDS = {"schema_version", "project", "document_id", "text_sha256", "lang", "offsets",
                 "tokens", "annotator", "status", "updated_at"}
SPAN_FIELDS = {"start", "end", "text", "label", "attrs", "id", "token_start", "token_end", "utf16"}
RELATION_FIELDS = {"head", "tail", "label", "id", "attrs"}
KNOWN_RECORD_FIELDS = RECORD_FIELDS | EXPORT_FIELDS
LANG_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}$")
# Only these characters make the normalisation do anything; most texts skip it.
_NEEDS_NORMALIZING = re.compile("[\x00\r\ud800-\udfff]")


def text_sha256(text: str) -> str:
    """Return the SHA-256 of the stored text's UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def prepare_record(record, schema: dict, max_chars: int, *, clean_text: bool = False,
                   context: Context | None = None) -> tuple[Prepared | None, list[str]]:
    """Validate one record and return it normalised, or the list of what is wrong with it."""
    context = context or make_context(schema, max_chars, clean_text, None, False, {})
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
    item = Prepared(None, external_id, text, text_sha256(text), json.dumps(meta),
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


def _owner(record: dict, has_spans: bool, context: Context, problems: list[str]):
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


def _prepare_span(raw, text, mapping, removed, remap, context: Context, views, span_ids: set[str],
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


def make_context(schema, max_chars, clean_text, as_user_id, suggestions, members) -> Context:
    """Return what every record of one import is checked against, each label's schema cut once."""
    label_schemas = {label["name"]: {**schema, "labels": [label]} for label in schema["labels"]}
    return Context(schema=schema, labels=set(label_schemas), label_schemas=label_schemas,
                    policy=schema.get("overlap", "nest"), max_chars=max_chars, clean=clean_text,
                    as_user_id=as_user_id, suggestions=suggestions, members=members)


def forget_random_ids() -> None:
    """Drop the random ids drawn so far, so that a forked worker does not hand out its parent's."""
    global _random_pool
    _random_pool = []


def add_tokens(items: list[Prepared]) -> None:
    """Tokenize the items' texts, a batch per language, and keep the tokens as JSON text."""
    by_lang: dict[str, list[Prepared]] = {}
    for item in items:
        by_lang.setdefault(item.lang, []).append(item)
    for lang, group in by_lang.items():
        for item, tokens in zip(group, tokenize_many([item.text for item in group], lang), strict=True):
            item.tokens = json.dumps(tokens)
