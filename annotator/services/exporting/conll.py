"""CoNLL of export records: one tab-separated block per record, a BIO column per label layer.

A file starts with a ``# conflict-annotator/1 conll`` line and a ``# global.columns = TOKEN
ACTOR WEAPON ...`` header, then holds one block per record: ``# key = value`` comment lines
(document_id, id, annotator, status, text_sha256, then split and dropped when there are any),
one line per stored token, a blank line. Spans nest, so each label has its own BIO column;
when spans of one label nest or overlap within a record, the inner ones go to further columns
``LABEL.2``, ``LABEL.3`` (as many as the export needs, found by a first pass,
:func:`plan_conll_columns`). The tokens are the stored ones, in a spaCy Doc
(:func:`~annotator.services.exporting.spacy_docs.make_doc`); a span that cannot be aligned to
them or placed in a column is named on the ``dropped`` line.
"""

from collections.abc import Iterable
from itertools import groupby

from sqlalchemy import select

from annotator.models import Span
from annotator.services.exporting.dataset import export_connection
from annotator.services.exporting.dataset import filtered_sets
from annotator.services.exporting.filters import ExportFilters
from annotator.services.exporting.jsonl import SCHEMA_VERSION
from annotator.services.exporting.jsonl import encode_string
from annotator.services.exporting.jsonl import escape_line_breaks
from annotator.services.exporting.spacy_docs import make_doc


def plan_layers(spans: Iterable[tuple[int, int]]) -> list[int]:
    """Return a layer for each ``(start, end)`` span of one label, outermost spans in layer 0.

    Spans are taken by start, longest first; each goes to the first layer it does not
    overlap, so nested or crossing spans of one label never share a layer.
    """
    spans = list(spans)
    order = sorted(range(len(spans)), key=lambda i: (spans[i][0], -spans[i][1]))
    layer_ends: list[int] = []
    layers = [0] * len(spans)
    for i in order:
        start, end = spans[i]
        for layer, last_end in enumerate(layer_ends):
            if last_end <= start:
                layer_ends[layer] = end
                layers[i] = layer
                break
        else:
            layers[i] = len(layer_ends)
            layer_ends.append(end)
    return layers


def plan_conll_columns(filters: ExportFilters) -> list[tuple[str, int]]:
    """Return the ``(label, layer)`` tag columns a CoNLL export needs, in schema label order.

    A first pass over the spans (offsets only) finds, per label, how many spans of that label
    ever overlap in one record.
    """
    depth: dict[str, int] = {}
    connection = export_connection()
    try:
        query = (select(Span.set_id, Span.label, Span.start, Span.end)
                 .where(Span.set_id.in_(filtered_sets(filters).scalar_subquery()))
                 .order_by(Span.set_id, Span.label))
        rows = connection.execution_options(yield_per=5000).execute(query)
        for (_, label), group in groupby(rows, key=lambda r: (r.set_id, r.label)):
            layers = plan_layers((r.start, r.end) for r in group)
            depth[label] = max(depth.get(label, 0), max(layers) + 1)
    finally:
        connection.close()
    labels = list(filters.labels) + sorted(set(depth) - set(filters.labels))
    return [(label, layer) for label in labels for layer in range(max(1, depth.get(label, 1)))]


def column_name(label: str, layer: int) -> str:
    """Return the CoNLL column name of a label's layer: ``LOCATION``, ``LOCATION.2``..."""
    return label if layer == 0 else f"{label}.{layer + 1}"


def conll_header(columns: list[tuple[str, int]]) -> str:
    """Return the first lines of a CoNLL file: the format and the column names."""
    names = " ".join(["TOKEN"] + [column_name(label, layer) for label, layer in columns])
    return f"# {SCHEMA_VERSION} conll\n# global.columns = {names}\n\n"


def conll_block(record: dict, columns: list[tuple[str, int]], vocab) -> str:
    """Return one record as a CoNLL block: comment lines, one line per stored token, a blank line.

    Each span is aligned to tokens by ``Doc.char_span(..., alignment_mode="expand")`` (the
    tokens ``token_start``/``token_end`` name); the tags of a label layer are spaCy's entity
    IOB codes once the layer's spans are set as the Doc's entities.
    """
    doc, words, positions = make_doc(vocab, record["text"], record["tokens"])
    index = {column: i for i, column in enumerate(columns)}
    per_column: list[list] = [[] for _ in columns]
    dropped = []
    by_label: dict[str, list[dict]] = {}
    for span in record["spans"]:
        by_label.setdefault(span["label"], []).append(span)
    for label, spans in by_label.items():
        for span, layer in zip(spans, plan_layers((s["start"], s["end"]) for s in spans), strict=True):
            aligned = doc.char_span(span["start"], span["end"], label=label, alignment_mode="expand")
            column = index.get((label, layer))
            # Spans apart in characters may meet once widened to whole tokens: the next layer.
            while column is not None and aligned is not None and any(
                    other.start < aligned.end and aligned.start < other.end for other in per_column[column]):
                layer += 1
                column = index.get((label, layer))
            if column is None or aligned is None:
                dropped.append(span["id"])
                continue
            per_column[column].append(aligned)
    outside = ["O"] * len(words)
    tags = []
    for (label, _), spans in zip(columns, per_column, strict=True):
        if not spans:
            tags.append(outside)
            continue
        doc.set_ents(spans, default="outside")
        codes = doc.to_array("ENT_IOB").tolist()  # spaCy's IOB codes: 3 begin, 1 inside, 2 outside
        begin, inside = "B-" + label, "I-" + label
        tags.append([begin if codes[p] == 3 else inside if codes[p] == 1 else "O" for p in positions])
    lines = [f"# document_id = {record['document_id']}",
             f"# id = {_comment_value(record['id'])}",
             f"# annotator = {_comment_value(record['annotator'])}",
             f"# status = {record['status']}",
             f"# text_sha256 = {record['text_sha256']}"]
    if "split" in record:
        lines.append(f"# split = {record['split']}")
    if dropped:
        lines.append(f"# dropped = {' '.join(_comment_value(d) for d in dropped)}")
    lines.extend("\t".join(row) for row in zip(words, *tags, strict=True))
    return "\n".join(lines) + "\n\n"


def _comment_value(value) -> str:
    # A comment is one line: escape line breaks the way JSON would.
    return "" if value is None else escape_line_breaks(encode_string(str(value))[1:-1])
