"""Plain text: the whole file is one document."""

from annotator.services.importing.base import Unreadable
from annotator.services.importing.readers.common import decode_utf8


def read_text(data: bytes) -> dict | Unreadable:
    """Return a plain-text file as one record (its BOM and line ends left to the import)."""
    try:
        text = decode_utf8(data)
    except ValueError as error:
        return Unreadable(str(error))
    return {"text": text}
