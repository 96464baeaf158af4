"""Text at the door: the import normalisation and the tokenizer (DESIGN.md section 4).

Import normalises only what it declares: it strips a leading BOM and turns CRLF and lone CR
into LF. NUL and lone surrogates are refused. Every other character is stored as given, and
offsets into the original text are remapped through :class:`OffsetMap`.
"""

import bisect
import unicodedata
from functools import lru_cache

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


# Characters a span boundary must not fall before: combining marks, joiners, emoji modifiers.
_JOINERS = {"\u200d", "\u034f"}


def is_boundary(text: str, offset: int) -> bool:
    """Return whether a span may start or end at ``offset`` (it splits no character cluster).

    A boundary may not fall between a base character and its combining mark, next to a
    zero-width joiner, or before an emoji skin-tone modifier.
    """
    if offset <= 0 or offset >= len(text):
        return 0 <= offset <= len(text)
    after = text[offset]
    before = text[offset - 1]
    if unicodedata.category(after).startswith("M"):
        return False
    if after in _JOINERS or before in _JOINERS:
        return False
    if "\U0001f3fb" <= after <= "\U0001f3ff":
        return False
    return True


@lru_cache(maxsize=16)
def _tokenizer(lang: str):
    # spaCy (with numpy and thinc) is imported on first use, not at start: a web worker that
    # never imports or exports stays small and starts fast.
    import spacy

    try:
        return spacy.blank(lang).tokenizer
    except (ImportError, KeyError, ValueError):  # no rules for this language: the generic ones
        return spacy.blank("xx").tokenizer


def tokenize(text: str, lang: str = "en") -> list[list[int]]:
    """Return the ``[start, end)`` code-point offsets of the words of ``text``.

    spaCy's rule-based tokenizer for ``lang`` (its blank pipeline; ``xx`` when spaCy has no
    rules for the language); whitespace tokens are left out.
    """
    doc = _tokenizer(lang or "en")(text)
    return [[t.idx, t.idx + len(t.text)] for t in doc if not t.is_space]


def tokenize_many(texts: list[str], lang: str) -> list[list[list[int]]]:
    """Return the tokens of each text, exactly as :func:`tokenize` does, for a batch.

    Runs spaCy's tokenizer over the batch with ``pipe`` and reads the offsets as one array
    per document, which is several times faster than walking the tokens in Python.
    """
    from spacy.attrs import IDX
    from spacy.attrs import IS_SPACE
    from spacy.attrs import LENGTH

    result = []
    for doc in _tokenizer(lang or "en").pipe(texts):
        if not len(doc):
            result.append([])
            continue
        array = doc.to_array([IDX, LENGTH, IS_SPACE])
        array = array[array[:, 2] == 0]
        array[:, 1] += array[:, 0]
        result.append(array[:, :2].tolist())
    return result
