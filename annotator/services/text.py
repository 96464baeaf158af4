"""Text at the door: the import normalisation, grapheme clusters and the tokenizer (docs/design.md §4).

Import normalises only what it declares: it strips a leading BOM and turns CRLF and lone CR
into LF. NUL and lone surrogates are refused. Every other character is stored as given, and
offsets into the original text are remapped through :class:`OffsetMap`.

Offsets count code points, but no span may start or end inside an extended grapheme cluster
(:class:`Graphemes`, the pinned ``regex`` module's ``\\X``), and no token does either
(:func:`whole_clusters`).
"""

import bisect
import sys
from functools import lru_cache

import regex

BOM = "\ufeff"


class TextError(ValueError):
    """The text cannot be stored (a NUL, a lone surrogate)."""


class OffsetMap:
    """Maps code-point offsets of the original text to offsets of the normalised text."""

    def __init__(self, removed: list[int]):
        self._removed = removed  # sorted indices of original characters that were dropped

    def __call__(self, offset: int) -> int:
        return offset - bisect.bisect_left(self._removed, offset)

    @property
    def identity(self) -> bool:
        return not self._removed


def normalize_text(raw: str) -> tuple[str, OffsetMap]:
    """Return the stored form of ``raw`` and the map from old offsets to new ones.

    :raise TextError: when the text holds a NUL or a lone surrogate, naming the line.
    """
    if "\x00" in raw:
        raise TextError(f"Line {raw.count(chr(10), 0, raw.index(chr(0))) + 1} of the text "
                        "contains a NUL character.")
    for i, ch in enumerate(raw):
        if "\ud800" <= ch <= "\udfff":
            line = raw.count("\n", 0, i) + 1
            raise TextError(f"Line {line} of the text contains a lone surrogate (U+{ord(ch):04X}).")
    removed = []
    if raw.startswith(BOM):
        removed.append(0)
    if "\r" in raw:
        removed.extend(i for i, ch in enumerate(raw) if ch == "\r" and raw[i + 1:i + 2] == "\n")
    text = raw[1:] if raw.startswith(BOM) else raw
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, OffsetMap(removed)


# The pairs of characters a grapheme-cluster rule of UAX #29 may join (the left one, the right
# one; None for any): every no-break rule (GB3, GB6-GB9c, GB11-GB13) needs one of them on either
# side of the position it keeps whole. Where no pair matches, nothing before can join the two,
# so the position is a boundary for certain; where one does, only ``\X`` can tell.
_JOINING_PAIRS = (
    (None, r"[\p{GCB=Extend}\p{GCB=ZWJ}\p{GCB=SpacingMark}]"),  # GB9, GB9a
    (r"\p{GCB=Prepend}", None),  # GB9b
    (r"\r", r"\n"),  # GB3
    (r"\p{GCB=L}", r"[\p{GCB=L}\p{GCB=V}\p{GCB=LV}\p{GCB=LVT}]"),  # GB6
    (r"[\p{GCB=LV}\p{GCB=V}]", r"[\p{GCB=V}\p{GCB=T}]"),  # GB7
    (r"[\p{GCB=LVT}\p{GCB=T}]", r"\p{GCB=T}"),  # GB8
    (r"[\p{InCB=Linker}\p{InCB=Extend}]", r"\p{InCB=Consonant}"),  # GB9c
    (r"\p{GCB=ZWJ}", r"\p{ExtPict}"),  # GB11
    (r"\p{GCB=RI}", r"\p{GCB=RI}"),  # GB12, GB13
)
# Searched backwards from an offset: the nearest position that is a boundary for certain.
_SURE_BOUNDARY = regex.compile(r"(?rs)(?<=.)(?=.)(?!" + "|".join(
    (f"(?<={left})" if left else "") + (f"(?={right})" if right else "")
    for left, right in _JOINING_PAIRS) + ")")
_CLUSTER = regex.compile(r"\X")


class Graphemes:
    """The extended grapheme clusters of one text, as the ``regex`` module's ``\\X`` finds them.

    Offsets stay code points; a span may start or end only between two clusters. A question
    about one offset is answered locally: from the nearest earlier position that is a boundary
    whatever precedes it (see ``_JOINING_PAIRS``), ``\\X`` is matched forward to the offset, so a
    check costs the length of a cluster or two, not of the text. Only when no such position
    lies within ``WINDOW`` code points (a long run of flags, of conjoining jamo, a cluster of
    hundreds of marks) are all the boundaries found once, and kept for the later questions.
    Keep one object per text for a request's checks.
    """

    WINDOW = 128

    def __init__(self, text: str):
        self.text = text
        self._starts: bytearray | None = None  # 1 at every boundary, once computed

    def cluster_split(self, offset: int) -> tuple[int, int] | None:
        """Return the ``[start, end)`` of the cluster ``offset`` falls inside, or None.

        None means that ``offset`` is a boundary (0 and the text's length are); offsets
        outside the text are the caller's to refuse.
        """
        text = self.text
        if not 0 < offset < len(text):
            return None
        before, after = text[offset - 1], text[offset]
        if before < "\x80" and after < "\x80" and (before, after) != ("\r", "\n"):
            return None  # two ASCII characters join only as CRLF: most offsets end here
        if self._starts is not None:
            if self._starts[offset]:
                return None
            return self._starts.rfind(1, 0, offset), self._starts.find(1, offset)
        low = max(0, offset - self.WINDOW)
        # A slice, not pos/endpos: a reverse search honours endpos unreliably for lookarounds.
        found = _SURE_BOUNDARY.search(text[low:offset + 1])
        if found is None and low > 0:
            self._find_all()
            return self.cluster_split(offset)
        position = low + found.start() if found is not None else 0
        start = position
        while position < offset:
            start, position = position, _CLUSTER.match(text, position).end()
        return None if position == offset else (start, position)

    def is_boundary(self, offset: int) -> bool:
        """Return whether ``offset`` lies in the text and between two clusters."""
        return 0 <= offset <= len(self.text) and self.cluster_split(offset) is None

    def _find_all(self) -> None:
        starts = bytearray(len(self.text) + 1)
        for match in _CLUSTER.finditer(self.text):
            starts[match.start()] = 1
        starts[-1] = 1
        self._starts = starts


# Where the characters of _JOINING_PAIRS are: planes 0-3 and the tags and variation selectors of
# plane 14 (a test checks every other code point against the pinned regex).
_PAIR_PLANES = ((0, 0x40000), (0xE0000, 0xE1000))


@lru_cache(maxsize=1)
def _pair_tables():
    """Return, by code point, the joining pairs each character may be the left and the right of.

    Bit ``k`` stands for ``_JOINING_PAIRS[k]``; a side that is None has every bit. Two arrays
    of 1.1 million 16-bit entries, built once per process in about a third of a second.
    """
    import numpy

    scanned = "".join(chr(c) for low, high in _PAIR_PLANES for c in range(low, high))
    classes = {side for pair in _JOINING_PAIRS for side in pair if side}
    # One scan finds the few thousand characters that are in some class at all.
    members = "".join(regex.findall("(?:" + "|".join(classes) + ")+", scanned))
    left = numpy.zeros(sys.maxunicode + 1, numpy.uint16)
    right = numpy.zeros(sys.maxunicode + 1, numpy.uint16)
    for bit, pair in enumerate(_JOINING_PAIRS):
        for table, side in zip((left, right), pair, strict=True):
            if side is None:
                table |= 1 << bit
            else:
                table[[ord(c) for c in regex.findall(side, members)]] |= 1 << bit
    return left, right


def whole_clusters(text: str, tokens) -> list[list[int]]:
    """Return ``tokens`` widened to whole grapheme clusters, merging tokens that share one.

    spaCy splits a flag into its two regional indicators, a ZWJ family into its people and a
    thumbs-up from its skin tone; a span snapped to such a token would split the character.
    ``tokens`` is a list of ``[start, end)`` pairs or an array of them. Every token edge is
    first looked up in :func:`_pair_tables` at once (an import tokenizes every text), and only
    the edges some rule may join are asked of :class:`Graphemes`.
    """
    import numpy

    as_list = tokens.tolist() if isinstance(tokens, numpy.ndarray) else tokens
    if len(text) < 2 or not as_list or text.isascii() and "\r" not in text:
        return as_list  # no cluster of ASCII is longer than CRLF
    left, right = _pair_tables()
    points = numpy.frombuffer(text.encode("utf-32-le", "surrogatepass"), numpy.uint32)
    edges = numpy.asarray(tokens, numpy.int64).reshape(-1)
    at = edges.clip(1, len(text) - 1)
    risky = (edges > 0) & (edges < len(text)) & ((left[points[at - 1]] & right[points[at]]) != 0)
    if not risky.any():
        return as_list
    graphemes = Graphemes(text)
    merged: list[list[int]] = []
    done = 0
    # Only a token with a risky edge can change or merge: a token whose start lies inside a
    # cluster has that start flagged, so the tokens between are copied as they are.
    for i in numpy.flatnonzero(risky.reshape(-1, 2).any(axis=1)).tolist():
        merged.extend(as_list[done:i])
        done = i + 1
        start, end = as_list[i]
        if cluster := graphemes.cluster_split(start):
            start = cluster[0]
        if cluster := graphemes.cluster_split(end):
            end = cluster[1]
        if merged and start < merged[-1][1]:
            merged[-1] = [merged[-1][0], max(merged[-1][1], end)]
        else:
            merged.append([start, end])
    merged.extend(as_list[done:])
    return merged


@lru_cache(maxsize=16)
def _tokenizer(lang: str):
    # spaCy (with numpy and thinc) is imported on first use, not at start: a web worker that
    # never imports or exports stays small and starts fast.
    import spacy

    _pair_tables()  # built with the tokenizer, so that forked import workers share them
    try:
        return spacy.blank(lang).tokenizer
    except (ImportError, KeyError, ValueError):  # no rules for this language: the generic ones
        return spacy.blank("xx").tokenizer


def tokenize(text: str, lang: str = "en") -> list[list[int]]:
    """Return the ``[start, end)`` code-point offsets of the words of ``text``.

    spaCy's rule-based tokenizer for ``lang`` (its blank pipeline; ``xx`` when spaCy has no
    rules for the language); whitespace tokens are left out, and tokens that split a grapheme
    cluster are merged (:func:`whole_clusters`).
    """
    doc = _tokenizer(lang or "en")(text)
    return whole_clusters(text, [[t.idx, t.idx + len(t.text)] for t in doc if not t.is_space])


def tokenize_many(texts: list[str], lang: str) -> list[list[list[int]]]:
    """Return the tokens of each text, exactly as :func:`tokenize` does, for a batch.

    Runs spaCy's tokenizer over the batch with ``pipe`` and reads the offsets as one array
    per document, which is several times faster than walking the tokens in Python.
    """
    from spacy.attrs import IDX
    from spacy.attrs import IS_SPACE
    from spacy.attrs import LENGTH

    result = []
    for text, doc in zip(texts, _tokenizer(lang or "en").pipe(texts), strict=True):
        if not len(doc):
            result.append([])
            continue
        array = doc.to_array([IDX, LENGTH, IS_SPACE])
        array = array[array[:, 2] == 0]
        array[:, 1] += array[:, 0]
        result.append(whole_clusters(text, array[:, :2]))
    return result
