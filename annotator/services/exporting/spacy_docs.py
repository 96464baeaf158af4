"""spaCy Docs of export records, for the spaCy DocBin export and the CoNLL tags.

A ``spacy.tokens.Doc`` is made from the stored words and the whitespace between them (so
``doc.text`` is the stored text and character offsets agree), and spans are aligned to tokens
with ``Doc.char_span(..., alignment_mode="expand")`` (the same tokens as
``token_start``/``token_end``). In a record's Doc, ``doc.spans["sc"]`` holds every span
(``span.id_`` is the span id), ``doc.ents`` the outermost non-overlapping ones
(``spacy.util.filter_spans``), and ``doc.user_data["conflict_annotator"]`` the record without
text and tokens (ids, meta, attrs by span id, relations).
"""



def load_spacy():
    """Return spaCy and its Doc, DocBin and Vocab classes, patched for the export."""
    # spaCy is imported on first use: the JSONL export never pays for it.
    import spacy.util
    import srsly.msgpack
    from spacy.tokens import Doc
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    # DocBin.add packs each doc's spans and user data with srsly's msgpack, whose registries
    # rescan every installed package's entry points on each call (about 1 ms, three times per
    # doc). When no package registers msgpack hooks there, the scan finds nothing: skip it.
    for registry in (srsly.msgpack.msgpack_encoders, srsly.msgpack.msgpack_decoders):
        if registry.entry_points and not registry.get_entry_points():
            registry.entry_points = False
    return spacy, Doc, DocBin, Vocab


def make_doc(vocab, text: str, tokens: list[list[int]]):
    """Return a spaCy Doc of the stored tokens whose ``text`` is exactly ``text``.

    Whitespace between stored tokens becomes trailing spaces and whitespace tokens, as spaCy's
    own tokenizer makes them, so character offsets into the Doc are offsets into ``text``.
    Returns the Doc, the stored tokens' words and, for each stored token, its index in the Doc.
    """
    _, Doc, _, _ = load_spacy()
    words = [text[start:end] for start, end in tokens]
    # gaps[i] is the whitespace before stored token i; gaps[-1] follows the last one.
    gaps = [text[a:b] for a, b in zip([0, *(t[1] for t in tokens)], [*(t[0] for t in tokens), len(text)],
                                      strict=True)]
    spaces = [gap[:1] == " " for gap in gaps[1:]]
    # Whitespace beyond one trailing space (newlines, runs of spaces) becomes a token of its own.
    extra = [(i, gap[1:] if i and spaces[i - 1] else gap) for i, gap in enumerate(gaps)
             if gap and (gap != " " or not i)]
    extra = [(i, rest) for i, rest in extra if rest]
    if not extra:
        return Doc(vocab, words=list(words), spaces=spaces), words, list(range(len(words)))
    doc_words, doc_spaces, positions = list(words), list(spaces), []
    for i, rest in reversed(extra):
        doc_words.insert(i, rest)
        doc_spaces.insert(i, False)
    shift = 0
    pending = iter(extra)
    following = next(pending, None)
    for k in range(len(words)):
        while following is not None and following[0] <= k:
            shift += 1
            following = next(pending, None)
        positions.append(k + shift)
    return Doc(vocab, words=doc_words, spaces=doc_spaces), words, positions


def record_doc(record: dict, vocab):
    """Return one record as a spaCy Doc: every span in ``doc.spans["sc"]``, the outermost in ``doc.ents``."""
    spacy, _, _, _ = load_spacy()
    doc, _, _ = make_doc(vocab, record["text"], record["tokens"])
    spans = []
    for span in record["spans"]:
        aligned = doc.char_span(span["start"], span["end"], label=span["label"], alignment_mode="expand",
                                span_id=span["id"])
        if aligned is not None:
            spans.append(aligned)
    doc.spans["sc"] = spans
    doc.ents = spacy.util.filter_spans(spans)
    doc.user_data["conflict_annotator"] = {
        key: value for key, value in record.items() if key not in ("text", "tokens", "spans", "offsets")
    } | {"attrs": {span["id"]: span["attrs"] for span in record["spans"]}}
    return doc
