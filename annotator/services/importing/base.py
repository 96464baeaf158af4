"""What the import's parts share: where a record comes from, what could not be read, limits, checked records.

The readers produce ``(location, record)`` pairs, a record being a dict or an
:class:`Unreadable`; the checking (:mod:`.records`) turns each into a :class:`Prepared` against
the import's :class:`Context`; the store writes those. The character and JSON rules here are
those of both sides: a text value may hold no NUL or lone surrogate.
"""

import re
from dataclasses import dataclass
from typing import Any

from annotator.errors import Invalid

# A zip is read member by member and never written to disk; these limits stop zip bombs.
ZIP_MAX_MEMBERS = 20_000
ZIP_MAX_BYTES = 2 * 1024**3
# Deeper JSON than this is refused (meta, attrs); the decoder itself gives up near 1,000.
MAX_JSON_DEPTH = 32


class ReadError(Invalid):
    """The input cannot be read at all; nothing of it is imported."""


@dataclass(frozen=True)
class Location:
    """Where a record comes from: a line (or record number) and, for many files, the file."""

    line: int
    file: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.file else str(self.line)


@dataclass(frozen=True)
class Unreadable:
    """A part of the input that could not be turned into a record, and why."""

    message: str


@dataclass
class Limits:
    """How large a document and an archive may be."""

    max_chars: int = 1_000_000
    zip_members: int = ZIP_MAX_MEMBERS
    zip_bytes: int = ZIP_MAX_BYTES

    @property
    def max_record_bytes(self) -> int:
        # A record is its text in UTF-8 (at most 4 bytes a character, 6 when JSON-escaped),
        # plus its spans and metadata.
        return self.max_chars * 6 + (8 << 20)


class Progress:
    """Counts the bytes read so far, for progress bars."""

    def __init__(self, total: int | None = None):
        self.total = total
        self.done = 0


def check_json_value(value, where: str) -> str | None:
    """Return why ``value`` cannot be stored as JSON (NUL, lone surrogate, too deep), or None.

    PostgreSQL refuses NUL and lone surrogates in JSONB; SQLite would store what no export can
    encode. Walks iteratively, so a deep value cannot exhaust the stack.
    """
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"{where} is nested more than {MAX_JSON_DEPTH} levels deep."
        if isinstance(item, str):
            if problem := bad_character(item):
                return f"{where} {problem}"
        elif isinstance(item, dict):
            for key, inner in item.items():
                stack.append((key, depth + 1))
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
    return None


_BAD = re.compile("[\x00\ud800-\udfff]")


def bad_character(text: str) -> str | None:
    """Return a description of the first NUL or lone surrogate in ``text``, or None."""
    found = _BAD.search(text)
    if found is None:
        return None
    char = found.group()
    return "contains a NUL character." if char == "\x00" else f"contains a lone surrogate (U+{ord(char):04X})."


@dataclass(slots=True)
class Prepared:
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
    tokens: str | None = None  # the tokens as JSON text, once computed (see add_tokens)


@dataclass
class Context:
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
