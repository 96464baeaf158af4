"""File readers: turn uploaded or local files into import records, one at a time.

Every reader is a generator of ``(location, record)`` pairs that
:func:`annotator.services.documents.import_records` consumes. A record is a dict in the
import format (``{text, id?, meta?, spans?, relations?}``); a part of the input that cannot
be read (a line of bad JSON, a file that is not UTF-8) comes as an :class:`Unreadable` in
place of the record, so that the import lists it with its line and goes on. Inputs that
cannot be read at all (an empty file, a zip that names ``../../x``) raise :class:`ReadError`.

Formats (see docs/import.md):

- ``jsonl``: one JSON record per line; the location is the line number.
- ``json``: an array of records, an object ``{"documents": [...]}`` or one record; the
  location is the record number. Arrays are read element by element.
- ``txt``: the whole file is one document.
- ``html``: one page; trafilatura extracts the main text, and the title, date and URL go
  into ``meta``. A page without main text (only navigation) is an error.
- ``csv``: one record per row, with a header; the text column is chosen (``text`` by
  default), ``id``/``external_id`` becomes the external id, every other column ``meta``.
- ``zip`` and folders: each member file is read by its extension.

Bytes are decoded as strict UTF-8, so an invalid byte is an error naming its line and
column, never a replacement character. A BOM at the start of a file is dropped. Line ends
inside texts are left to the import's normalisation (DESIGN.md section 4), which remaps the
spans; the optional :func:`clean` filter runs there too.
"""

import codecs
import csv
import io
import json
import math
import os
import re
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from pathlib import PurePosixPath
from typing import BinaryIO

from annotator.errors import Invalid

FORMATS = ("jsonl", "json", "txt", "html", "csv", "zip")
EXTENSIONS = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".txt": "txt", ".text": "txt",
    ".md": "txt", ".html": "html", ".htm": "html", ".xhtml": "html", ".csv": "csv", ".zip": "zip",
}
UTF8_BOM = codecs.BOM_UTF8

# A zip is read member by member and never written to disk; these limits stop zip bombs.
ZIP_MAX_MEMBERS = 20_000
ZIP_MAX_BYTES = 2 * 1024**3
# Deeper JSON than this is refused (meta, attrs); the decoder itself gives up near 1,000.
MAX_JSON_DEPTH = 32
CHUNK = 1 << 20


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


# ---------------------------------------------------------------------------------------------
# Decoding and JSON


def decode_utf8(data: bytes, line: int = 1) -> str:
    """Return ``data`` decoded as UTF-8, or raise :class:`ValueError` naming line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[:error.start]
        at_line = line + before.count(b"\n")
        column = error.start - (before.rfind(b"\n") + 1) + 1
        raise ValueError(f"Line {at_line}, byte {column}: invalid UTF-8 byte 0x{data[error.start]:02x} "
                         "(save the file as UTF-8).") from None


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"The number {text} is too large.")
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON.")


_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_no_constant)


def loads(text: str):
    """Parse JSON strictly: no NaN or Infinity, and nesting too deep is a ValueError.

    :raise ValueError: with a message fit for people (never a RecursionError).
    """
    try:
        value, end = _DECODER.raw_decode(text, _skip_ws(text, 0))
    except RecursionError:
        raise ValueError("The JSON is nested too deeply.") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"Not valid JSON: {error.msg} (column {error.colno}).") from None
    if _skip_ws(text, end) != len(text):
        raise ValueError(f"Not valid JSON: extra data after the value (column {end + 1}).")
    return value


_WS = re.compile(r"[ \t\n\r]*")


def _skip_ws(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()


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


# ---------------------------------------------------------------------------------------------
# Cleaning scraped text

_BOILERPLATE = re.compile(
    r"""^(?:
        skip\ to\ (?:the\ )?(?:main\ )?(?:content|navigation|article)
      | scroll\ (?:down\ )?to\ continue(?:\ with\ content)?(?:\ reading)?
      | (?:recommended|suggested|picked)\ for\ you | recommended(?:\ stories|\ articles)?
      | advertisements? | advert | ad | sponsored(?:\ content|\ links?)? | paid\ content
      | (?:story\ )?continues\ below(?:\ advertisement)? | article\ continues\ below
      | share(?:\ this)?(?:\ article|\ story|\ page|\ post)?(?:\ on\ [\w ]{1,20})?
      | (?:facebook|twitter|x|whatsapp|telegram|linkedin|reddit|email|e-mail|print|copy\ link)
        (?:[ ,|/·•]+(?:facebook|twitter|x|whatsapp|telegram|linkedin|reddit|email|e-mail|print|copy\ link))*
      | tweet | pin\ it
      | subscribe(?:\ now|\ today|\ here)?(?:\ to\ [\w ]{1,40})?
      | sign\ up(?:\ now)?(?:\ for\ [\w ]{0,30}newsletters?)? | (?:get\ )?our\ newsletter
      | newsletter\ sign[- ]?up | (?:sign|log)\ in(?:\ to\ continue)? | register
      | follow\ us(?:\ on\ [\w ,&]{1,40})?
      | read\ more | continue\ reading | read\ next | more\ stories | related(?:\ articles|\ stories|\ content)?
      | most\ (?:read|popular|viewed) | trending(?:\ now)? | you\ may\ also\ like | don'?t\ miss
      | (?:watch|listen)(?:\ now|\ live)? | back\ to\ top | close | menu | search
      | accept(?:\ all)?(?:\ cookies)? | we\ use\ cookies.{0,80}
    )[\s.:!…»›>|-]*$""",
    re.IGNORECASE | re.VERBOSE,
)


def is_boilerplate(line: str) -> bool:
    """Return whether ``line`` is a scraped-page prompt ("Skip to main content", "Advertisement")."""
    stripped = line.strip()
    return 0 < len(stripped) <= 120 and _BOILERPLATE.match(stripped) is not None


def clean(text: str) -> tuple[str, list[int]]:
    """Drop boilerplate lines and collapse runs of blank lines; return the text and what went.

    Works on whole lines only (split on ``\\n``, never on U+2028 or other separators), so no
    character inside a kept line changes. Blank lines at the start and the end go, and a blank
    line that follows another blank line goes. Returns the sorted code-point indices of the
    removed characters, for :class:`~annotator.services.text.OffsetMap`.
    """
    removed: list[int] = []
    kept: list[str] = []
    position = 0
    previous_blank = True  # blank lines at the start go
    lines = text.split("\n")
    last = len(lines) - 1
    pending_blank: tuple[int, str] | None = None
    for index, line in enumerate(lines):
        piece = line + ("\n" if index < last else "")
        start = position
        position += len(piece)
        if is_boilerplate(line):
            removed.extend(range(start, position))
            continue
        if not line.strip():
            if previous_blank or pending_blank is not None:
                removed.extend(range(start, position))
            else:
                pending_blank = (start, piece)
            continue
        if pending_blank is not None:
            kept.append(pending_blank[1])
            pending_blank = None
        previous_blank = False
        kept.append(piece)
    if pending_blank is not None:  # a blank line at the end goes too
        removed.extend(range(pending_blank[0], pending_blank[0] + len(pending_blank[1])))
    removed.sort()
    return "".join(kept), removed


# ---------------------------------------------------------------------------------------------
# Format detection


def format_for(name: str | None, head: bytes = b"") -> str:
    """Return the format of a file from its name, else from its first bytes.

    :raise ReadError: when neither says which format it is.
    """
    suffix = PurePosixPath(name or "").suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    return sniff(head, name)


def sniff(head: bytes, name: str | None = None) -> str:
    """Guess the format from the first bytes: zip, JSON array, JSON lines, HTML or text."""
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    start = head.removeprefix(UTF8_BOM).lstrip()
    if start.startswith(b"["):
        return "json"
    if start.startswith(b"{"):
        return "jsonl"
    lowered = start[:200].lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<body" in lowered:
        return "html"
    return "txt"


# ---------------------------------------------------------------------------------------------
# Readers of one stream


def iter_stream(stream: BinaryIO, fmt: str, *, name: str | None = None, limits: Limits | None = None,
                text_column: str | None = None, progress: Progress | None = None,
                file_label: str | None = None) -> Iterator[tuple[Location, object]]:
    """Yield the records of one file in format ``fmt``.

    :param file_label: when set, locations carry it (inputs of many files).
    :raise ReadError: when the file cannot be read at all.
    """
    limits = limits or Limits()
    if fmt == "zip":
        yield from iter_zip(stream, limits=limits, text_column=text_column, progress=progress)
        return
    readers = {"jsonl": _iter_jsonl, "json": _iter_json, "csv": _iter_csv}
    if fmt in readers:
        found = False
        for line, record in readers[fmt](stream, limits, progress, text_column=text_column):
            found = True
            yield Location(line, file_label), record
        if not found:
            raise _empty(file_label or name)
        return
    if fmt in ("txt", "html"):
        data = _read_limited(stream, limits.max_record_bytes, progress)
        if data is None:
            yield Location(1, file_label), Unreadable(
                f"The file is larger than {limits.max_record_bytes:,} bytes.")
            return
        if not data.strip():
            if file_label:
                yield Location(1, file_label), Unreadable("The file is empty.")
                return
            raise _empty(name)
        record = read_html(data, name) if fmt == "html" else read_text(data)
        if isinstance(record, dict) and file_label:
            record.setdefault("id", file_label)
        yield Location(1, file_label), record
        return
    raise ReadError(f"Unknown format {fmt!r}.", {"format": [f"Must be one of: {', '.join(FORMATS)}."]})


def _empty(name: str | None) -> ReadError:
    label = f"{name}: " if name else ""
    return ReadError(f"{label}The file is empty: there is nothing to import.",
                     {"file": ["The file holds no documents."]})


def _read_limited(stream: BinaryIO, limit: int, progress: Progress | None) -> bytes | None:
    data = stream.read(limit + 1)
    if progress is not None:
        progress.done += len(data)
    if len(data) > limit:
        return None
    return data


def read_text(data: bytes) -> dict | Unreadable:
    """Return a plain-text file as one record (its BOM and line ends left to the import)."""
    try:
        text = decode_utf8(data)
    except ValueError as error:
        return Unreadable(str(error))
    return {"text": text}


_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)


def read_html(data: bytes, name: str | None = None) -> dict | Unreadable:
    """Return the main text of an HTML page as a record, with title, date and URL in ``meta``.

    The page is decoded as UTF-8, or strictly in the charset its ``<meta>`` declares; a page
    in neither is refused rather than guessed at. trafilatura drops navigation, footers and
    comments; a page with nothing left is an error.
    """
    import trafilatura  # imported here: it is slow to import and only HTML needs it

    try:
        html = decode_utf8(data)
    except ValueError as error:
        declared = _CHARSET.search(data[:4096])
        try:
            html = data.decode(declared.group(1).decode("ascii")) if declared else None
        except (LookupError, UnicodeDecodeError):
            html = None
        if html is None:
            return Unreadable(f"{error} The page declares no charset that decodes it.")
    html = html.removeprefix("\ufeff")
    if problem := bad_character(html):
        return Unreadable(f"The page {problem}")
    try:
        found = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False,
                                            favor_precision=True)
    except Exception as error:  # noqa: BLE001 - a parser failure on hostile markup is bad input
        return Unreadable(f"The HTML could not be parsed ({type(error).__name__}).")
    text = getattr(found, "text", None) if found is not None else None
    if not text or not text.strip():
        return Unreadable("No main text found: the page seems to hold only navigation, "
                          "menus or footers.")
    meta = {}
    for key in ("title", "date", "url", "author", "sitename"):
        value = getattr(found, key, None)
        if isinstance(value, str) and value.strip():
            meta[key] = value
    if name:
        meta["source_file"] = PurePosixPath(name).name
    return {"text": text, "meta": meta}


def _iter_lines(stream: BinaryIO, limits: Limits, progress: Progress | None) -> Iterator[tuple[int, bytes | None]]:
    """Yield ``(line number, bytes)`` for each line, split on ``\\n`` only; None when too long."""
    limit = limits.max_record_bytes
    number = 0
    while True:
        raw = stream.readline(limit + 1)
        if not raw:
            return
        number += 1
        if progress is not None:
            progress.done += len(raw)
        if len(raw) > limit and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of the long line
                raw = stream.readline(CHUNK)
                if progress is not None:
                    progress.done += len(raw)
            yield number, None
            continue
        if number == 1:
            raw = raw.removeprefix(UTF8_BOM)
        yield number, raw


def _iter_jsonl(stream, limits, progress, **_) -> Iterator[tuple[int, object]]:
    for number, raw in _iter_lines(stream, limits, progress):
        if raw is None:
            yield number, Unreadable(f"The line is longer than {limits.max_record_bytes:,} bytes.")
            continue
        if not raw.strip():
            continue
        try:
            yield number, loads(decode_utf8(raw, number))
        except ValueError as error:
            yield number, Unreadable(str(error))


def _iter_json(stream, limits, progress, **_) -> Iterator[tuple[int, object]]:
    """Read a JSON array element by element; an object is one record or ``{"documents": [...]}``."""
    buffer = _JsonBuffer(stream, limits, progress)
    first = buffer.peek()
    if first is None:
        return
    if first != "[":
        try:
            value = loads(buffer.rest())
        except ValueError as error:
            yield 1, Unreadable(str(error))
            return
        if isinstance(value, dict) and isinstance(value.get("documents"), list) and "text" not in value:
            yield from enumerate(value["documents"], 1)
        else:
            yield 1, value
        return
    yield from buffer.iter_array()


class _JsonBuffer:
    """Decodes a JSON array from a byte stream one element at a time, in bounded memory."""

    def __init__(self, stream, limits: Limits, progress: Progress | None):
        self.stream, self.limits, self.progress = stream, limits, progress
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.text, self.pos, self.eof, self.bytes_read = "", 0, False, 0
        self.lines_before = 0  # line count of the text already dropped from the buffer

    def _more(self) -> bool:
        if self.eof:
            return False
        data = self.stream.read(CHUNK)
        if self.progress is not None:
            self.progress.done += len(data)
        if self.bytes_read == 0:
            data = data.removeprefix(UTF8_BOM)
        self.bytes_read += len(data)
        try:
            chunk = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError:
            line = self.lines_before + self.text.count("\n") + 1
            raise ReadError(f"Invalid UTF-8 near line {line} (save the file as UTF-8).",
                            {str(line): ["Invalid UTF-8 (save the file as UTF-8)."]}) from None
        if not data:
            self.eof = True
        # Drop what was consumed so the buffer holds about one element at a time.
        self.lines_before += self.text.count("\n", 0, self.pos)
        self.text = self.text[self.pos:] + chunk
        self.pos = 0
        return bool(data)

    def peek(self) -> str | None:
        while True:
            self.pos = _skip_ws(self.text, self.pos)
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self._more():
                return None

    def rest(self) -> str:
        while self._more():
            if len(self.text) > self.limits.max_record_bytes * 4:
                raise ReadError("The JSON object is too large; use a JSON array or JSON lines.",
                                {"file": ["Too large to read as one object."]})
        return self.text[self.pos:]

    def iter_array(self) -> Iterator[tuple[int, object]]:
        self.pos += 1  # the "["
        number = 0
        while True:
            char = self.peek()
            if char == "]" and number == 0:
                return
            if char is None:
                yield number + 1, Unreadable("The JSON array is not closed.")
                return
            number += 1
            value = self._element(number)
            if isinstance(value, Unreadable):
                yield number, value
                return  # no way to find where the next element starts
            yield number, value
            char = self.peek()
            if char == ",":
                self.pos += 1
            elif char == "]":
                return
            else:
                yield number + 1, Unreadable("Expected ',' or ']' after the record.")
                return

    def _element(self, number: int):
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except RecursionError:
                return Unreadable("The JSON is nested too deeply.")
            except json.JSONDecodeError as error:
                complete = len(self.text) - self.pos > self.limits.max_record_bytes
                if complete or not self._more():
                    return Unreadable(f"Not valid JSON: {error.msg}.")
                continue
            except ValueError as error:  # NaN, Infinity, a number too large
                return Unreadable(str(error))
            if end == len(self.text) and not self.eof and self.text[self.pos] not in "[{\"":
                # A number at the end of the buffer may continue in the next chunk.
                if self._more():
                    continue
            self.pos = end
            return value


def _iter_csv(stream, limits, progress, *, text_column=None) -> Iterator[tuple[int, object]]:
    """Read CSV with a header row; the location is the line where the row starts."""
    state = {"line": 0}

    def lines():
        for number, raw in _iter_lines(stream, limits, progress):
            state["line"] = number
            if raw is None:
                raise ReadError(f"Line {number} is longer than {limits.max_record_bytes:,} bytes.",
                                {str(number): ["Line too long."]})
            try:
                yield decode_utf8(raw, number)
            except ValueError as error:
                raise ReadError(str(error), {str(number): [str(error)]}) from None

    # The csv module's field limit is process-wide; raise it to the document limit.
    if csv.field_size_limit() < limits.max_chars * 4:
        csv.field_size_limit(limits.max_chars * 4)
    reader = csv.reader(lines(), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as error:
        raise ReadError(f"Line 1: not valid CSV ({error}).", {"1": [str(error)]}) from None
    header = [name.strip() for name in header]
    column = text_column or next((c for c in ("text", "body", "content", "article") if c in header), None)
    if column not in header:
        raise ReadError(
            f"The CSV has no column {column!r}." if column else "Choose the text column of the CSV.",
            {"text_column": [f"Columns: {', '.join(header)}."]})
    text_index = header.index(column)
    id_index = next((header.index(c) for c in ("external_id", "id") if c in header), None)
    start = 2
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield start, Unreadable(f"Not valid CSV: {error}.")
            return
        line, start = start, state["line"] + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield line, Unreadable(f"The row has {len(row)} fields; the header has {len(header)}.")
            continue
        record = {"text": row[text_index]}
        if id_index is not None and row[id_index].strip():
            record["id"] = row[id_index].strip()
        meta = {name: value for i, (name, value) in enumerate(zip(header, row, strict=True))
                if i not in (text_index, id_index) and name}
        if meta:
            record["meta"] = meta
        yield line, record


# ---------------------------------------------------------------------------------------------
# Archives, folders and pasted text


def member_name_problem(name: str) -> str | None:
    """Return why an archive member name is refused (absolute, ``..``, a drive), or None."""
    if not name:
        return "an empty name"
    if "\x00" in name:
        return "a name with a NUL character"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    parts = re.split(r"[\\/]", name)
    if ".." in parts:
        return "a path that leaves the archive (..)"
    return None


def _skipped_member(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def iter_zip(stream: BinaryIO, *, limits: Limits, text_column=None,
             progress: Progress | None = None) -> Iterator[tuple[Location, object]]:
    """Yield the records of every file in a zip, checking every member name first.

    :raise ReadError: when it is not a zip, names an absolute path or ``..``, holds too many
        members or too many bytes, or holds no files.
    """
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ReadError(f"Not a valid zip file ({error}).", {"file": ["Not a valid zip file."]}) from None
    with archive:
        infos = archive.infolist()
        bad = {info.filename: problem for info in infos
               if (problem := member_name_problem(info.filename))}
        if bad:
            raise ReadError("The zip holds unsafe paths; nothing was imported.",
                            {name: [f"Refused: {problem}."] for name, problem in bad.items()})
        files = [info for info in infos if not info.is_dir() and not _skipped_member(info.filename)]
        if len(files) > limits.zip_members:
            raise ReadError(f"The zip holds {len(files):,} files; the limit is {limits.zip_members:,}.",
                            {"file": ["Too many files in the zip."]})
        if sum(info.file_size for info in files) > limits.zip_bytes:
            raise ReadError(f"The zip unpacks to more than {limits.zip_bytes:,} bytes.",
                            {"file": ["The zip is too large once unpacked."]})
        if not files:
            raise ReadError("The zip holds no files.", {"file": ["The zip holds no documents."]})
        budget = _Budget(limits.zip_bytes)
        for info in sorted(files, key=lambda i: i.filename):
            fmt = EXTENSIONS.get(PurePosixPath(info.filename).suffix.lower())
            if fmt is None or fmt == "zip":
                yield Location(1, info.filename), Unreadable(
                    "Unsupported file type (use .txt, .html, .jsonl, .json or .csv; archives inside "
                    "archives are not read).")
                continue
            with archive.open(info) as member:
                counted = _CountingReader(member, budget)
                yield from iter_stream(counted, fmt, name=info.filename, limits=limits,
                                       text_column=text_column, file_label=info.filename)
            if progress is not None and info.compress_size:
                progress.done += info.compress_size


class _Budget:
    def __init__(self, remaining: int):
        self.remaining = remaining


class _CountingReader(io.RawIOBase):
    """Reads a zip member and stops when the archive's byte budget is spent.

    The sizes a zip declares can lie; this counts what actually comes out.
    """

    def __init__(self, member, budget: _Budget):
        self.member, self.budget = member, budget

    def readable(self) -> bool:
        return True

    def _take(self, data: bytes) -> bytes:
        self.budget.remaining -= len(data)
        if self.budget.remaining < 0:
            raise ReadError("The zip unpacks to more bytes than allowed.",
                            {"file": ["The zip is too large once unpacked."]})
        return data

    def read(self, size=-1) -> bytes:
        return self._take(self.member.read(size))

    def readline(self, size=-1) -> bytes:
        return self._take(self.member.readline(size))


def iter_paths(paths: list[str | os.PathLike], fmt: str | None = None, *, limits: Limits | None = None,
               text_column: str | None = None,
               progress: Progress | None = None) -> Iterator[tuple[Location | int, object]]:
    """Yield the records of local files and folders (folders are read recursively, sorted).

    Locations carry the file name when there is more than one file.

    :raise ReadError: when a path does not exist or a folder holds no files.
    """
    limits = limits or Limits()
    files: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*")
                           if p.is_file() and not _skipped_member(str(p.relative_to(path))))
            if not found:
                raise ReadError(f"{path}: the folder holds no files.", {"file": ["Empty folder."]})
            files.extend((p, str(p.relative_to(path)).replace(os.sep, "/")) for p in found)
        elif path.is_file() or (path.exists() and stat.S_ISFIFO(path.stat().st_mode)):
            files.append((path, path.name))
        else:
            raise ReadError(f"{path}: no such file or folder.", {"file": [f"{path} does not exist."]})
    if progress is not None:
        progress.total = sum(p.stat().st_size for p, _ in files if p.is_file())
    many = len(files) > 1
    for path, label in files:
        with open(path, "rb") as stream:
            head = stream.read(512)
            stream.seek(0)
            file_fmt = fmt or format_for(path.name, head)
            records = iter_stream(stream, file_fmt, name=path.name, limits=limits, text_column=text_column,
                                  progress=progress, file_label=label if many else None)
            for location, record in records:
                if not many and file_fmt in ("txt", "html") and isinstance(record, dict):
                    record.setdefault("id", label)
                yield location, record


def iter_upload(stream: BinaryIO, filename: str | None, fmt: str | None = None, *,
                limits: Limits | None = None, text_column: str | None = None,
                progress: Progress | None = None) -> Iterator[tuple[Location | int, object]]:
    """Yield the records of one uploaded file (a zip yields those of its members).

    :raise ReadError: when the file cannot be read at all.
    """
    head = stream.read(512)
    stream.seek(0)
    if not head:
        raise _empty(filename)
    fmt = fmt or format_for(filename, head)
    for location, record in iter_stream(stream, fmt, name=filename, limits=limits, text_column=text_column,
                                        progress=progress):
        if fmt in ("txt", "html") and isinstance(record, dict) and filename:
            record.setdefault("id", PurePosixPath(filename).name)
        yield location, record


def iter_pasted(text: str, fmt: str | None = None, *, limits: Limits | None = None,
                text_column: str | None = None) -> Iterator[tuple[Location | int, object]]:
    """Yield the records of text pasted into the upload page (JSON lines, JSON, CSV, HTML or text)."""
    data = text.encode("utf-8", "surrogatepass")
    if not data.strip():
        raise _empty(None)
    fmt = fmt or sniff(data[:512])
    if fmt == "zip":
        raise ReadError("A zip cannot be pasted; upload it as a file.", {"format": ["Upload zips as files."]})
    yield from iter_stream(io.BytesIO(data), fmt, limits=limits, text_column=text_column)
