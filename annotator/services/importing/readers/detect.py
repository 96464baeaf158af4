"""Format detection: a file's format from its name, else from its first bytes."""

from pathlib import PurePosixPath

from annotator.services.importing.readers.common import UTF8_BOM

FORMATS = ("jsonl", "json", "txt", "html", "csv", "zip")
EXTENSIONS = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".txt": "txt", ".text": "txt",
    ".md": "txt", ".html": "html", ".htm": "html", ".xhtml": "html", ".csv": "csv", ".zip": "zip",
}


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
