"""JSON: an array of records (read element by element), ``{"documents": [...]}`` or one record."""

import codecs
import json
from collections.abc import Iterator

from annotator.services.importing.base import Limits
from annotator.services.importing.base import Progress
from annotator.services.importing.base import ReadError
from annotator.services.importing.base import Unreadable
from annotator.services.importing.readers.common import CHUNK
from annotator.services.importing.readers.common import DECODER
from annotator.services.importing.readers.common import UTF8_BOM
from annotator.services.importing.readers.common import loads
from annotator.services.importing.readers.common import skip_ws


def iter_json(stream, limits, progress, **_) -> Iterator[tuple[int, object]]:
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
            self.pos = skip_ws(self.text, self.pos)
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
                value, end = DECODER.raw_decode(self.text, self.pos)
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
