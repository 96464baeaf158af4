"""Exports: the training data, streamed from the database in the formats trainers use.

One service, three ways out: the API (``GET /api/v1/projects/{pid}/export``), the admin page
and ``flask --app app export`` all call :func:`open_export`, which checks the filters before a
single byte is sent and returns an :class:`Export` whose :meth:`Export.chunks` streams the
file. One record per (document, annotator): the annotator's manual annotation set on the
document together with the status of their assignment.

The package, from the database out (each module imports only those before it):

- :mod:`.filters`: what to export (status, annotators, documents, ``updated_since``, split),
  checked and resolved to ids; the seeded train/dev/test split.
- :mod:`.dataset`: the SQL: the records query, its counts, the spans and relations of a batch
  aggregated one row per set, read on a snapshot connection of the export's own.
- :mod:`.jsonl`: the JSONL record (a contract) and its one encoder; the dict records are the
  lines parsed back.
- :mod:`.spacy_docs` and :mod:`.conll`: a record as a spaCy Doc and as a CoNLL block.
- :mod:`.writers`: the files (text streamed in chunks, zips streamed through a sink), their
  names and media types, and :class:`Export`.
"""

from collections.abc import Iterator

from annotator.errors import Invalid
from annotator.models import Project
from annotator.services.exporting.conll import column_name
from annotator.services.exporting.conll import conll_block
from annotator.services.exporting.conll import conll_header
from annotator.services.exporting.conll import plan_conll_columns
from annotator.services.exporting.conll import plan_layers
from annotator.services.exporting.dataset import BATCH_SIZE
from annotator.services.exporting.dataset import count_export
from annotator.services.exporting.dataset import iter_export_rows
from annotator.services.exporting.filters import DEFAULT_SEED
from annotator.services.exporting.filters import DEFAULT_STATUS
from annotator.services.exporting.filters import SPLITS
from annotator.services.exporting.filters import ExportFilters
from annotator.services.exporting.filters import parse_split
from annotator.services.exporting.filters import resolve_filters
from annotator.services.exporting.filters import split_of
from annotator.services.exporting.jsonl import SCHEMA_VERSION
from annotator.services.exporting.jsonl import iter_export_lines
from annotator.services.exporting.jsonl import iter_export_records
from annotator.services.exporting.jsonl import record_line
from annotator.services.exporting.spacy_docs import make_doc
from annotator.services.exporting.spacy_docs import record_doc
from annotator.services.exporting.writers import CHUNK_BYTES
from annotator.services.exporting.writers import FORMATS
from annotator.services.exporting.writers import SHARD_SIZE
from annotator.services.exporting.writers import Export
from annotator.services.exporting.writers import export_filename
from annotator.services.exporting.writers import export_mimetype
from annotator.services.exporting.writers import iter_conll

__all__ = [
    "BATCH_SIZE", "CHUNK_BYTES", "DEFAULT_SEED", "DEFAULT_STATUS", "FORMATS", "SCHEMA_VERSION", "SHARD_SIZE",
    "SPLITS", "Export", "ExportFilters", "Invalid", "column_name", "conll_block", "conll_header", "count_export",
    "export_filename", "export_mimetype", "iter_conll", "iter_export_lines", "iter_export_records",
    "iter_export_rows", "iter_records", "make_doc", "open_export", "parse_split", "plan_conll_columns",
    "plan_layers", "record_doc", "record_line", "resolve_filters", "split_of",
]


def iter_records(project: Project, *, status=DEFAULT_STATUS, annotators=None, document_ids=None,
                 updated_since=None, split=None, seed=DEFAULT_SEED, batch_size: int = BATCH_SIZE) -> Iterator[dict]:
    """Yield the export records of ``project`` (the JSONL record as dicts), sorted.

    :raise Invalid: at the first ``next()``, for filters :func:`resolve_filters` refuses.
    """
    filters = resolve_filters(project, status=status, annotators=annotators, document_ids=document_ids,
                              updated_since=updated_since, split=split, seed=seed)
    yield from iter_export_records(filters, batch_size=batch_size)


def open_export(project: Project, format: str = "jsonl", **options) -> Export:  # noqa: A002
    """Check an export of ``project`` and return it ready to stream (see :func:`resolve_filters`).

    :raise Invalid: for an unknown format (field ``format``) or filter.
    """
    if format not in FORMATS:
        errors = {"format": [f"Unknown format {format!r}; use {', '.join(FORMATS)}."]}
        try:
            resolve_filters(project, **options)
        except Invalid as error:
            errors.update(error.errors)
        raise Invalid("The export filters are not valid.", errors)
    filters = resolve_filters(project, **options)
    split = bool(filters.split)
    return Export(filters, format, export_filename(project, format, split), export_mimetype(format, split))
