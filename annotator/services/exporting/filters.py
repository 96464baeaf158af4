"""Export filters: what an export holds, checked against the database before a byte is sent.

The ``status`` filter is the assignment status (``submitted`` by default). Other filters:
annotators (usernames), documents (ids) and ``updated_since`` (the later of the set's and the
assignment's last change; inclusive, so feeding the newest ``updated_at`` of one export into
the next never misses a change).

Splits
------
``split=(80, 10, 10)`` puts each document in train, dev or test by a seeded SHA-256 of its
text hash: deterministic, independent of ids and databases (the same article lands in the same
split in any project with the same seed), and every annotator of a document in the same split.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from annotator.choices import ASSIGNMENT_STATUSES
from annotator.errors import Invalid
from annotator.extensions import db
from annotator.models import Document
from annotator.models import Project
from annotator.models import User
from annotator.models import as_utc

SPLITS = ("train", "dev", "test")
DEFAULT_STATUS = ("submitted",)
DEFAULT_SEED = 0


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
