"""Export writers: the files an export streams, put together from its records, and their names.

JSONL and a plain CoNLL file are text, handed on in chunks of about :data:`CHUNK_BYTES`. With
a split, CoNLL is a zip of ``train.conll``, ``dev.conll`` and ``test.conll``. spaCy is a zip of
``.spacy`` DocBin files of at most :data:`SHARD_SIZE` docs (``corpus/000000.spacy``, or
``train/``, ``dev/``, ``test/`` with a split; ``spacy train`` reads a directory of them); one
DocBin per shard keeps memory flat. Zips are written into a :class:`_Sink` whose bytes are
taken out as they come, so they stream too.
"""

import io
import re
import tempfile
import zipfile
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass

from annotator.choices import EXPORT_FORMATS
from annotator.models import Project
from annotator.services.exporting.conll import conll_block
from annotator.services.exporting.conll import conll_header
from annotator.services.exporting.conll import plan_conll_columns
from annotator.services.exporting.filters import SPLITS
from annotator.services.exporting.filters import ExportFilters
from annotator.services.exporting.jsonl import iter_export_lines
from annotator.services.exporting.jsonl import iter_export_records
from annotator.services.exporting.spacy_docs import load_spacy
from annotator.services.exporting.spacy_docs import record_doc

FORMATS = EXPORT_FORMATS
# Docs per .spacy file: a DocBin holds all its docs in memory until it is written.
SHARD_SIZE = 100
# Bytes gathered before a chunk is handed to the server: fewer, larger writes.
CHUNK_BYTES = 64 * 1024
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same export is the same bytes


class _Sink(io.RawIOBase):
    """A write-only, unseekable stream whose bytes are taken out as they come (a streamed zip)."""

    def __init__(self):
        super().__init__()
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _zip_info(name: str, compress: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def _buffered(pieces: Iterable[str]) -> Iterator[bytes]:
    """Encode text pieces as UTF-8 and hand them on in chunks of about :data:`CHUNK_BYTES`."""
    buffer: list[str] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= CHUNK_BYTES:
            yield "".join(buffer).encode("utf-8")
            buffer.clear()
            size = 0
    if buffer:
        yield "".join(buffer).encode("utf-8")


def iter_conll(records: Iterable[dict], columns: list[tuple[str, int]]) -> Iterator[str]:
    """Yield a CoNLL file: the header, then one block per record."""
    _, _, _, Vocab = load_spacy()
    yield conll_header(columns)
    vocab = Vocab()
    for n, record in enumerate(records, 1):
        yield conll_block(record, columns, vocab)
        if n % SHARD_SIZE == 0:
            vocab = Vocab()  # a fresh string store now and then keeps memory flat


def _iter_conll_zip(records: Iterable[dict], columns: list[tuple[str, int]]) -> Iterator[bytes]:
    """Stream a zip of train.conll, dev.conll and test.conll in one pass over the records.

    train.conll (the largest) is written into the zip as it comes; dev and test wait in
    temporary files and follow it.
    """
    _, _, _, Vocab = load_spacy()
    sink = _Sink()
    header = conll_header(columns).encode("utf-8")
    with zipfile.ZipFile(sink, "w") as archive, tempfile.TemporaryFile() as dev, \
            tempfile.TemporaryFile() as test:
        spools = {"dev": dev, "test": test}
        for spool in spools.values():
            spool.write(header)
        with archive.open(_zip_info("train.conll", True), "w", force_zip64=True) as train:
            train.write(header)
            vocab = Vocab()
            for n, record in enumerate(records, 1):
                block = conll_block(record, columns, vocab).encode("utf-8")
                if record["split"] == "train":
                    train.write(block)
                    yield sink.take()
                else:
                    spools[record["split"]].write(block)
                if n % SHARD_SIZE == 0:
                    vocab = Vocab()
        yield sink.take()
        for name in ("dev", "test"):
            spool = spools[name]
            spool.seek(0)
            with archive.open(_zip_info(f"{name}.conll", True), "w", force_zip64=True) as entry:
                while chunk := spool.read(CHUNK_BYTES):
                    entry.write(chunk)
                    yield sink.take()
    yield sink.take()


def _iter_spacy_zip(records: Iterable[dict], split: bool) -> Iterator[bytes]:
    """Stream a zip of DocBin shards, ``corpus/`` or one folder per split."""
    _, _, DocBin, Vocab = load_spacy()
    sink = _Sink()
    attrs = ["ORTH", "SPACY", "ENT_IOB", "ENT_TYPE", "ENT_ID"]

    def new_shard():
        return {"bin": DocBin(attrs=attrs, store_user_data=True), "vocab": Vocab(), "count": 0}

    shards: dict[str, dict] = {}
    numbers: dict[str, int] = {}
    with zipfile.ZipFile(sink, "w") as archive:

        def flush(folder):
            shard = shards.pop(folder)
            number = numbers.get(folder, 0)
            numbers[folder] = number + 1
            # DocBin files are zlib-compressed already: stored as they are.
            archive.writestr(_zip_info(f"{folder}/{number:06d}.spacy", False), shard["bin"].to_bytes())

        for record in records:
            folder = record["split"] if split else "corpus"
            shard = shards.get(folder) or shards.setdefault(folder, new_shard())
            shard["bin"].add(record_doc(record, shard["vocab"]))
            shard["count"] += 1
            if shard["count"] >= SHARD_SIZE:
                flush(folder)
                yield sink.take()
        for folder in [f for f in ("corpus", *SPLITS) if f in shards]:
            flush(folder)
            yield sink.take()
    yield sink.take()


@dataclass
class Export:
    """A checked export, ready to stream: its file name, media type and bytes."""

    filters: ExportFilters
    format: str
    filename: str
    mimetype: str
    columns: list[tuple[str, int]] | None = None

    @staticmethod
    def _counted(items: Iterable, progress: Callable[[], None] | None) -> Iterator:
        for item in items:
            yield item
            if progress is not None:
                progress()

    def chunks(self, progress: Callable[[], None] | None = None) -> Iterator[bytes]:
        """Yield the file's bytes in chunks, reading the database as it goes."""
        if self.format == "conll" and self.columns is None:
            # Planned here, not in open_export: the response has started by now.
            self.columns = plan_conll_columns(self.filters)
        if self.format == "jsonl":
            yield from _buffered(self._counted(iter_export_lines(self.filters), progress))
            return
        records = self._counted(iter_export_records(self.filters), progress)
        if self.format == "conll" and not self.filters.split:
            yield from _buffered(iter_conll(records, self.columns))
        elif self.format == "conll":
            yield from (chunk for chunk in _iter_conll_zip(records, self.columns) if chunk)
        else:
            yield from (chunk for chunk in _iter_spacy_zip(records, bool(self.filters.split)) if chunk)

    def write(self, handle, progress: Callable[[], None] | None = None) -> None:
        """Write the whole file to a binary ``handle``."""
        for chunk in self.chunks(progress):
            handle.write(chunk)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:60]


def export_filename(project: Project, fmt: str, split: bool) -> str:
    """Return the download name: the project's name as an ASCII slug, and the format's extension."""
    stem = _slug(project.name) or f"project-{project.id}"
    if fmt == "jsonl":
        return f"{stem}.jsonl"
    if fmt == "conll":
        return f"{stem}-conll.zip" if split else f"{stem}.conll"
    return f"{stem}-spacy.zip"


def export_mimetype(fmt: str, split: bool) -> str:
    """Return the media type of an export's file: JSON lines, CoNLL text or a zip."""
    if fmt == "jsonl":
        return "application/x-ndjson; charset=utf-8"
    if fmt == "conll" and not split:
        return "text/plain; charset=utf-8"
    return "application/zip"
