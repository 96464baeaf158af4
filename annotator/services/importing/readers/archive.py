"""Zip archives: every member read by its extension, within limits that stop zip bombs.

The archive is read member by member and never written to disk. Members are read by the
reader :func:`iter_zip` is given (the registry's ``iter_stream``), so that this module need
not know the other formats.
"""

import io
import re
import zipfile
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import BinaryIO

from annotator.services.importing.base import Limits
from annotator.services.importing.base import Location
from annotator.services.importing.base import Progress
from annotator.services.importing.base import ReadError
from annotator.services.importing.base import Unreadable
from annotator.services.importing.readers.detect import EXTENSIONS


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


def skipped_member(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return any(part.startswith(".") or part == "__MACOSX" for part in parts)


def iter_zip(stream: BinaryIO, *, limits: Limits, read_member: Callable[..., Iterator[tuple[Location, object]]],
             text_column=None, progress: Progress | None = None) -> Iterator[tuple[Location, object]]:
    """Yield the records of every file in a zip, checking every member name first.

    :param read_member: reads one member, as :func:`~annotator.services.importing.readers.iter_stream`.

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
        files = [info for info in infos if not info.is_dir() and not skipped_member(info.filename)]
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
                yield from read_member(counted, fmt, name=info.filename, limits=limits,
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
