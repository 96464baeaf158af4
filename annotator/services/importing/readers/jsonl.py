"""JSON lines: one JSON record per line; the location is the line number."""

from collections.abc import Iterator

from annotator.services.importing.base import Unreadable
from annotator.services.importing.readers.common import decode_utf8
from annotator.services.importing.readers.common import iter_lines
from annotator.services.importing.readers.common import loads


def iter_jsonl(stream, limits, progress, **_) -> Iterator[tuple[int, object]]:
    for number, raw in iter_lines(stream, limits, progress):
        if raw is None:
            yield number, Unreadable(f"The line is longer than {limits.max_record_bytes:,} bytes.")
            continue
        if not raw.strip():
            continue
        try:
            yield number, loads(decode_utf8(raw, number))
        except ValueError as error:
            yield number, Unreadable(str(error))
