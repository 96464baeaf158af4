"""What the readers share: strict UTF-8, strict JSON, lines and files read within the limits."""

import codecs
import json
import math
import re
from collections.abc import Iterator
from typing import BinaryIO

from annotator.services.importing.base import Limits
from annotator.services.importing.base import Progress
from annotator.services.importing.base import ReadError

UTF8_BOM = codecs.BOM_UTF8
CHUNK = 1 << 20


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


DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_no_constant)


def loads(text: str):
    """Parse JSON strictly: no NaN or Infinity, and nesting too deep is a ValueError.

    :raise ValueError: with a message fit for people (never a RecursionError).
    """
    try:
        value, end = DECODER.raw_decode(text, skip_ws(text, 0))
    except RecursionError:
        raise ValueError("The JSON is nested too deeply.") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"Not valid JSON: {error.msg} (column {error.colno}).") from None
    if skip_ws(text, end) != len(text):
        raise ValueError(f"Not valid JSON: extra data after the value (column {end + 1}).")
    return value


_WS = re.compile(r"[ \t\n\r]*")


def skip_ws(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()


def empty_file(name: str | None) -> ReadError:
    label = f"{name}: " if name else ""
    return ReadError(f"{label}The file is empty: there is nothing to import.",
                     {"file": ["The file holds no documents."]})


def read_limited(stream: BinaryIO, limit: int, progress: Progress | None) -> bytes | None:
    data = stream.read(limit + 1)
    if progress is not None:
        progress.done += len(data)
    if len(data) > limit:
        return None
    return data


def iter_lines(stream: BinaryIO, limits: Limits, progress: Progress | None) -> Iterator[tuple[int, bytes | None]]:
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
