"""File readers: turn uploaded or local files into import records, one at a time.

Every reader is a generator of ``(location, record)`` pairs that
:func:`annotator.services.importing.import_records` consumes. A record is a dict in the
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
inside texts are left to the import's normalisation (docs/design.md section 4), which remaps the
spans; the optional :func:`~annotator.services.importing.cleaning.clean` filter runs there too.

Each format has its module; :func:`iter_stream` picks the reader for a format, and
:mod:`.detect` says which format a file is in.
"""

import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from pathlib import PurePosixPath
from typing import BinaryIO

from annotator.services.importing.base import Limits
from annotator.services.importing.base import Location
from annotator.services.importing.base import Progress
from annotator.services.importing.base import ReadError
from annotator.services.importing.base import Unreadable
from annotator.services.importing.readers.archive import iter_zip
from annotator.services.importing.readers.archive import member_name_problem
from annotator.services.importing.readers.archive import skipped_member
from annotator.services.importing.readers.common import decode_utf8
from annotator.services.importing.readers.common import empty_file
from annotator.services.importing.readers.common import loads
from annotator.services.importing.readers.common import read_limited
from annotator.services.importing.readers.csvrows import iter_csv
from annotator.services.importing.readers.detect import EXTENSIONS
from annotator.services.importing.readers.detect import FORMATS
from annotator.services.importing.readers.detect import format_for
from annotator.services.importing.readers.detect import sniff
from annotator.services.importing.readers.htmlpage import read_html
from annotator.services.importing.readers.jsondoc import iter_json
from annotator.services.importing.readers.jsonl import iter_jsonl
from annotator.services.importing.readers.txt import read_text

__all__ = ["EXTENSIONS", "FORMATS", "Limits", "Location", "Progress", "ReadError", "Unreadable", "decode_utf8",
           "format_for", "iter_pasted", "iter_paths", "iter_stream", "iter_upload", "iter_zip", "loads",
           "member_name_problem", "read_html", "read_text", "sniff"]

# The readers of formats whose records are many, each read incrementally.
READERS = {"jsonl": iter_jsonl, "json": iter_json, "csv": iter_csv}


def iter_stream(stream: BinaryIO, fmt: str, *, name: str | None = None, limits: Limits | None = None,
                text_column: str | None = None, progress: Progress | None = None,
                file_label: str | None = None) -> Iterator[tuple[Location, object]]:
    """Yield the records of one file in format ``fmt``.

    :param file_label: when set, locations carry it (inputs of many files).
    :raise ReadError: when the file cannot be read at all.
    """
    limits = limits or Limits()
    if fmt == "zip":
        yield from iter_zip(stream, limits=limits, read_member=iter_stream, text_column=text_column,
                            progress=progress)
        return
    if fmt in READERS:
        found = False
        for line, record in READERS[fmt](stream, limits, progress, text_column=text_column):
            found = True
            yield Location(line, file_label), record
        if not found:
            raise empty_file(file_label or name)
        return
    if fmt in ("txt", "html"):
        data = read_limited(stream, limits.max_record_bytes, progress)
        if data is None:
            yield Location(1, file_label), Unreadable(
                f"The file is larger than {limits.max_record_bytes:,} bytes.")
            return
        if not data.strip():
            if file_label:
                yield Location(1, file_label), Unreadable("The file is empty.")
                return
            raise empty_file(name)
        record = read_html(data, name) if fmt == "html" else read_text(data)
        if isinstance(record, dict) and file_label:
            record.setdefault("id", file_label)
        yield Location(1, file_label), record
        return
    raise ReadError(f"Unknown format {fmt!r}.", {"format": [f"Must be one of: {', '.join(FORMATS)}."]})


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
                           if p.is_file() and not skipped_member(str(p.relative_to(path))))
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
        raise empty_file(filename)
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
        raise empty_file(None)
    fmt = fmt or sniff(data[:512])
    if fmt == "zip":
        raise ReadError("A zip cannot be pasted; upload it as a file.", {"format": ["Upload zips as files."]})
    yield from iter_stream(io.BytesIO(data), fmt, limits=limits, text_column=text_column)
