"""CSV: one record per row under a header; the text column chosen, the other columns ``meta``."""

import csv
from collections.abc import Iterator

from annotator.services.importing.base import ReadError
from annotator.services.importing.base import Unreadable
from annotator.services.importing.readers.common import decode_utf8
from annotator.services.importing.readers.common import iter_lines


def iter_csv(stream, limits, progress, *, text_column=None) -> Iterator[tuple[int, object]]:
    """Read CSV with a header row; the location is the line where the row starts."""
    state = {"line": 0}

    def lines():
        for number, raw in iter_lines(stream, limits, progress):
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
