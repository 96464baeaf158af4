"""The casualty-claim count assistant: reads the quantity phrase of a claim.

:func:`parse_count` turns the text of a CASUALTY_CLAIM span ("almost 100 people dead", "killing
between 12 and 15 people", "no members of the security forces were hurt") into the count
attributes of docs/scheme.md section 3 by its normalisation table:

=====================================  ===========  =====  =====  =====
phrase                                 qualifier    value  low    high
=====================================  ===========  =====  =====  =====
"three", "14", "a", "one"              exact        n      n      n
implicit single ("his sister")         exact        1      1      1 (count_text null)
"at least 40"                          at_least     40     40     null
"more than 80", "over 80"              more_than    80     81     null
"almost 100", "nearly 60"              almost       100    null   99
"up to 15"                             up_to        15     null   15
"about/around/some 40"                 approximate  40     null   null
"between 12 and 15"                    range        null   12     15
"dozens"/"tens"/"hundreds"/"thousands" vague        null   12/10/100/1000  null
"several", "many"                      vague        null   null   null
"no ...", "without ... casualties"     none         null   null   null (polarity negative)
=====================================  ===========  =====  =====  =====

The server pre-fills these for the annotator to confirm; it never overrides what the
annotator sent. Ages ("12-year-old"), ordinals ("13th") and other hyphenated numbers are not
counts. Focus words ("only", "all", "another") stay out of ``count_text``.
"""

import re

UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
        "eighty": 80, "ninety": 90}
SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
# ACLED's convention for vague plurals: the smallest number the word can mean.
VAGUE_LOW = {"dozens": 12, "tens": 10, "hundreds": 100, "thousands": 1000}
VAGUE_NONE = ("an unknown number of", "a number of", "a few", "several", "many", "numerous",
              "scores of")
# Longest phrases first, so "no fewer than" wins over "no".
QUALIFIERS = [
    ("no fewer than", "at_least"), ("no less than", "at_least"), ("a minimum of", "at_least"),
    ("at least", "at_least"),
    ("more than", "more_than"), ("upwards of", "more_than"), ("in excess of", "more_than"),
    ("over", "more_than"),
    ("almost", "almost"), ("nearly", "almost"), ("close to", "almost"), ("just under", "almost"),
    ("up to", "up_to"), ("as many as", "up_to"),
    ("approximately", "approximate"), ("an estimated", "approximate"),
    ("roughly", "approximate"), ("about", "approximate"), ("around", "approximate"),
    ("some", "approximate"),
]
NEGATORS = {"no", "none", "without", "denied", "denies", "deny", "nobody", "zero"}
OUTCOME_WORDS = [
    ("missing", "missing"), ("disappeared", "missing"),
    ("casualties", "unspecified"), ("casualty", "unspecified"), ("harmed", "unspecified"),
    ("neutralised", "unspecified"), ("neutralized", "unspecified"), ("losses", "unspecified"),
    ("killed", "killed"), ("killing", "killed"), ("dead", "killed"), ("died", "killed"),
    ("bodies", "killed"), ("body", "killed"), ("buried", "killed"), ("lost", "killed"),
    ("deaths", "killed"), ("death toll", "killed"), ("toll", "killed"),
    ("wounded", "injured"), ("wounding", "injured"), ("injured", "injured"),
    ("injuring", "injured"), ("injuries", "injured"), ("hurt", "injured"),
    ("treated", "injured"), ("treating", "injured"),
]
COUNT_KEYS = ("count_text", "count_value", "count_low", "count_high", "qualifier", "polarity")

_WORD = re.compile(r"\d[\d,]*(?:\.\d+)?|[^\W\d_]+(?:-[^\W\d_]+)*", re.UNICODE)


class _Number:
    def __init__(self, start: int, end: int, value: int | None, low: int | None = None, vague=False):
        self.start, self.end, self.value, self.low, self.vague = start, end, value, low, vague


def _word_value(word: str) -> int | None:
    """Return the value of a number word ("seven", "twenty-five"), or None."""
    word = word.lower()
    if word in UNITS:
        return UNITS[word]
    if word in TENS:
        return TENS[word]
    parts = word.split("-")
    if len(parts) == 2 and parts[0] in TENS and parts[1] in UNITS and UNITS[parts[1]] < 10:
        return TENS[parts[0]] + UNITS[parts[1]]
    return None


def _numbers(text: str) -> list[_Number]:
    """Return the counts written in ``text``, in order (digits, number words, vague plurals)."""
    found: list[_Number] = []
    words = list(_WORD.finditer(text))
    i = 0
    while i < len(words):
        match = words[i]
        token, start, end = match.group(), match.start(), match.end()
        after = text[end:end + 3]
        if token[0].isdigit():
            # "12-year-old", "13th", "5%" and "3.5" are not counts of people.
            if after[:1] in ("-", "%") or re.match(r"(st|nd|rd|th)\b", after) or "." in token:
                i += 1
                continue
            found.append(_Number(start, end, int(token.replace(",", ""))))
            i += 1
            continue
        lower = token.lower()
        if lower in VAGUE_LOW:
            found.append(_Number(start, end, None, VAGUE_LOW[lower], vague=True))
            i += 1
            continue
        if lower == "dozen" or (lower in ("a", "one") and i + 1 < len(words)
                                and words[i + 1].group().lower() == "dozen"):
            last = words[i + 1] if lower != "dozen" else match
            found.append(_Number(start, last.end(), 12))
            i += 2 if lower != "dozen" else 1
            continue
        value = _word_value(token)
        if value is not None and not after.startswith("-"):
            # "two hundred", "three thousand": a number word times a scale.
            last_end = end
            j = i + 1
            while j < len(words) and words[j].group().lower() in SCALES:
                value *= SCALES[words[j].group().lower()]
                last_end = words[j].end()
                j += 1
            found.append(_Number(start, last_end, value))
            i = j
            continue
        i += 1
    return found


def _qualifier_before(text: str, start: int) -> tuple[str, int] | None:
    """Return the qualifier that ends right before ``start`` and where it starts."""
    before = text[:start].rstrip()
    lower = before.lower()
    for phrase, qualifier in QUALIFIERS:
        if lower.endswith(phrase) and (len(lower) == len(phrase) or not lower[-len(phrase) - 1].isalnum()):
            return qualifier, len(before) - len(phrase)
    return None


def _outcome(text: str) -> str | None:
    lower = text.lower()
    best = None
    for word, outcome in OUTCOME_WORDS:
        for match in re.finditer(rf"\b{re.escape(word)}\b", lower):
            if best is None or match.start() < best[0]:
                best = (match.start(), outcome)
    return best[1] if best else None


def parse_count(text: str) -> dict:
    """Return the count attributes docs/scheme.md's table gives the claim ``text``.

    The result has ``count_text``, ``count_value``, ``count_low``, ``count_high``,
    ``qualifier`` and ``polarity``, and ``outcome`` when an outcome word is present.
    """
    result = {"count_text": None, "count_value": None, "count_low": None, "count_high": None,
              "qualifier": "exact", "polarity": "positive"}
    outcome = _outcome(text)
    if outcome is not None:
        result["outcome"] = outcome
    lower = text.lower()
    numbers = _numbers(text)
    if numbers:
        first = numbers[0]
        # "between 12 and 15", "from 12 to 15", "12 to 15": a range.
        if len(numbers) > 1 and first.value is not None and numbers[1].value is not None:
            second = numbers[1]
            gap = lower[first.end:second.start].strip()
            lead = lower[:first.start].rstrip()
            if gap in ("and", "to", "-", "–") and (gap != "and" or lead.endswith("between")):
                begin = first.start
                for word in ("between", "from"):
                    if lead.endswith(word):
                        begin = len(lead) - len(word)
                result.update(count_text=text[begin:second.end], count_low=first.value,
                              count_high=second.value, qualifier="range")
                return result
        qualifier = _qualifier_before(text, first.start) if not first.vague else None
        begin = qualifier[1] if qualifier else first.start
        result["count_text"] = text[begin:first.end]
        if first.vague:
            result.update(qualifier="vague", count_low=first.low)
            return result
        n = first.value
        kind = qualifier[0] if qualifier else "exact"
        result["qualifier"] = kind
        result["count_value"] = n
        if kind == "exact":
            result.update(count_low=n, count_high=n)
        elif kind == "at_least":
            result["count_low"] = n
        elif kind == "more_than":
            result["count_low"] = n + 1
        elif kind == "almost":
            result["count_high"] = n - 1
        elif kind == "up_to":
            result["count_high"] = n
        return result
    for phrase in VAGUE_NONE:
        match = re.search(rf"\b{re.escape(phrase)}\b", lower)
        if match:
            result.update(count_text=text[match.start():match.start() + len(phrase.split(" of")[0])],
                          qualifier="vague")
            return result
    words = [m.group().lower() for m in _WORD.finditer(text)]
    if any(word in NEGATORS for word in words) or "not a single" in lower:
        result.update(qualifier="none", polarity="negative")
        return result
    article = re.search(r"\b(a|an)\b", text, re.IGNORECASE)
    if article:
        result.update(count_text=article.group(), count_value=1, count_low=1, count_high=1)
        return result
    # An implicit single victim ("wounded his sister"): one, with no quantity phrase.
    result.update(count_value=1, count_low=1, count_high=1)
    return result


def prefill_counts(schema_label: dict, attrs: dict, text: str) -> dict:
    """Return ``attrs`` with the count attributes the label has and the client left out.

    Only attributes the label's schema defines are filled, and only those absent from
    ``attrs``: what the annotator sent always wins.
    """
    names = {attribute["name"] for attribute in schema_label.get("attributes", [])}
    if not {"count_text", "qualifier"} <= names:
        return attrs
    parsed = parse_count(text)
    filled = dict(attrs)
    for key, value in parsed.items():
        if key in names and key not in filled:
            filled[key] = value
    return filled
