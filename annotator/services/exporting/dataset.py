"""The export's dataset: the SQL that selects its records, counts them and reads them in batches.

Records come from :func:`iter_export_rows`, which reads a server-side cursor (a named cursor on
PostgreSQL) in batches on a connection of its own, so memory stays flat however large the
project is, and the whole export sees one snapshot of the database. One record per (document,
annotator): the annotator's manual annotation set on the document (empty when they submitted
without spans) together with the status of their assignment.

The records query returns one row per record: the document and the assignment, and the set's
spans and relations aggregated in SQL. Reading those as ~25 rows per record through the driver
was half the export's time; now a json.loads and a split per aggregate, both in C, take them
apart. The JSON columns (meta, tokens, attrs) arrive as the database's own JSON text: the JSONL
encoder splices that text into the line instead of parsing and re-encoding it (for tokens the
two would cost more than everything else together).
"""

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Text
from sqlalchemy import and_
from sqlalchemy import cast
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import type_coerce

from annotator.extensions import db
from annotator.models import AnnotationSet
from annotator.models import Assignment
from annotator.models import Document
from annotator.models import Relation
from annotator.models import Span
from annotator.models import User
from annotator.services.exporting.filters import SPLITS
from annotator.services.exporting.filters import ExportFilters
from annotator.services.exporting.filters import split_of

# Records per database round trip: large enough that the per-query cost vanishes, small
# enough that a batch of texts and parsed token lists stays a few MiB.
BATCH_SIZE = 200

# Between the attrs of an aggregate: JSON text never holds a raw control character.
_SEPARATOR = "\x1e"


def _record_conditions(filters: ExportFilters) -> list:
    conditions = [Document.project_id == filters.project_id, Assignment.status.in_(filters.statuses)]
    if filters.user_ids is not None:
        conditions.append(Assignment.user_id.in_(filters.user_ids))
    if filters.document_ids is not None:
        conditions.append(Assignment.document_id.in_(filters.document_ids))
    if filters.updated_since is not None:
        since = filters.updated_since
        conditions.append(or_(Assignment.updated_at >= since, AnnotationSet.updated_at >= since))
    return conditions


def _set_join():
    return and_(AnnotationSet.document_id == Assignment.document_id,
                AnnotationSet.user_id == Assignment.user_id, AnnotationSet.kind == "manual")


def filtered_sets(filters: ExportFilters):
    """Return a query of the ids of the annotation sets the export reads."""
    return (
        select(AnnotationSet.id)
        .select_from(Assignment)
        .join(Document, Document.id == Assignment.document_id)
        .join(AnnotationSet, _set_join())
        .where(*_record_conditions(filters))
    )


def count_export(filters: ExportFilters) -> dict:
    """Return how many records, documents, spans and relations the export holds (and per split)."""
    base = (select(Assignment.document_id).select_from(Assignment)
            .join(Document, Document.id == Assignment.document_id)
            .outerjoin(AnnotationSet, _set_join()).where(*_record_conditions(filters)))
    counted = base.subquery()
    records, documents = db.session.execute(
        select(func.count(), func.count(func.distinct(counted.c.document_id))).select_from(counted)).one()
    sets = filtered_sets(filters).scalar_subquery()
    spans = db.session.scalar(select(func.count()).select_from(Span).where(Span.set_id.in_(sets)))
    relations = db.session.scalar(select(func.count()).select_from(Relation).where(Relation.set_id.in_(sets)))
    summary = {"records": records, "documents": documents, "spans": spans, "relations": relations}
    if filters.split:
        per_split = dict.fromkeys(SPLITS, 0)
        rows = db.session.execute(
            select(Document.text_sha256, func.count()).select_from(Assignment)
            .join(Document, Document.id == Assignment.document_id)
            .outerjoin(AnnotationSet, _set_join())
            .where(*_record_conditions(filters)).group_by(Document.text_sha256))
        for sha, n in rows:
            per_split[split_of(sha, filters.split, filters.seed)] += n
        summary["splits"] = per_split
    return summary


def export_connection():
    """Open a read-only connection whose reads all see one snapshot."""
    connection = db.engine.connect()
    if connection.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    # SQLite: the connection's one deferred transaction reads one WAL snapshot.
    return connection


def _aggregate(dialect: str, columns: list, attrs):
    """Return an SQL aggregate of a set's rows: a JSON array of ``columns`` arrays, then the attrs.

    Each row's ``attrs`` JSON text follows the array after a :data:`_SEPARATOR`, so it is
    neither escaped in SQL nor unescaped in Python; ``[]`` for no rows. Both parts come from
    one pass over the rows, so they are in the same order, which is the database's (SQLite
    before 3.44 cannot order inside an aggregate): the columns start with what
    :func:`aggregate_rows` sorts by.
    """
    attrs = func.coalesce(cast(attrs, Text), "null")
    if dialect == "postgresql":
        arrays = cast(func.json_agg(func.json_build_array(*columns)), Text)
        texts = func.string_agg(attrs, _SEPARATOR)
    else:
        arrays = type_coerce(func.json_group_array(func.json_array(*columns)), Text)
        texts = func.group_concat(attrs, _SEPARATOR)
    return func.coalesce(arrays + _SEPARATOR + texts, "[]")


def aggregate_rows(aggregate: str) -> list[tuple[list, str]]:
    """Return the ``(columns, attrs JSON)`` pairs of an :func:`_aggregate`, sorted by their columns."""
    arrays, _, texts = aggregate.partition(_SEPARATOR)
    columns = json.loads(arrays)
    return sorted(zip(columns, texts.split(_SEPARATOR) if columns else (), strict=True))


def _records_query(filters: ExportFilters):
    return (
        select(Assignment.document_id, Assignment.status, Assignment.updated_at, User.username,
               Document.external_id, Document.text, Document.text_sha256, Document.lang,
               cast(Document.meta, Text).label("meta"), cast(Document.tokens, Text).label("tokens"),
               AnnotationSet.id.label("set_id"), AnnotationSet.updated_at.label("set_updated_at"))
        .select_from(Assignment)
        .join(Document, Document.id == Assignment.document_id)
        .join(User, User.id == Assignment.user_id)
        .outerjoin(AnnotationSet, _set_join())
        .where(*_record_conditions(filters))
        .order_by(Assignment.document_id, User.username)
    )


def _aggregates_query(dialect: str, set_ids: list[int], model, columns: list):
    """Return a query of ``(set id, aggregate)`` for the sets of ``set_ids`` that have rows of ``model``."""
    return (select(model.set_id, _aggregate(dialect, columns, model.attrs))
            .where(model.set_id.in_(set_ids)).group_by(model.set_id))


def iter_export_rows(filters: ExportFilters, *, batch_size: int = BATCH_SIZE) -> Iterator[tuple[Any, str, str]]:
    """Yield each record's row with the :func:`_aggregate` of its spans and of its relations, sorted.

    The rows come from a server-side cursor (``yield_per``: a named cursor on PostgreSQL) in
    batches; the spans and the relations of a batch's sets, one row per set, with one query
    each. The connection is the export's own and is closed when the generator finishes or is
    closed.
    """
    connection = export_connection()
    dialect = connection.dialect.name
    span_columns = [Span.start, -Span.end, Span.id, Span.uuid, Span.label]  # sorted: by start, longest first
    relation_columns = [Relation.id, Relation.uuid, Relation.head_id, Relation.tail_id, Relation.label]
    try:
        result = connection.execution_options(yield_per=batch_size).execute(_records_query(filters))
        for batch in result.partitions():
            set_ids = [row.set_id for row in batch if row.set_id is not None]
            spans, relations = {}, {}
            if set_ids:
                spans = dict(connection.execute(_aggregates_query(dialect, set_ids, Span, span_columns)).all())
                relations = dict(connection.execute(
                    _aggregates_query(dialect, set_ids, Relation, relation_columns)).all())
            for row in batch:
                yield row, spans.get(row.set_id, "[]"), relations.get(row.set_id, "[]")
    finally:
        connection.close()
