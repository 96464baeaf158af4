"""The label schema's rules agree in Python and in the workspace's JavaScript.

The server decides (label_schema.overlap_error, label_schema.relation_error, text.Graphemes and
text.whole_clusters, the exporter's UTF-16 map); the workspace checks the same rules before it
sends a change (static/js/workspace/rules.js and offsets.js), to say at once why a change
cannot be made. One table of cases runs through both, in Chromium, and each answer must be the
table's: change a rule on one side only and this test fails.
"""

import re
from types import SimpleNamespace

import pytest

from annotator.services.exporting.jsonl import _utf16
from annotator.services.label_schema import overlap_error
from annotator.services.label_schema import relation_error
from annotator.services.text import Graphemes
from annotator.services.text import whole_clusters
from tests.factories import make_user

pytestmark = pytest.mark.browser

# --- the table -------------------------------------------------------------------------------

# Spans already in the set: id -> (start, end, label).
SPANS = {"a": (10, 20, "ACTOR"), "b": (30, 40, "TARGET")}

# (policy, new span start, end, label, id of the span being edited, expected verdict). A verdict
# is None (allowed) or (why, the label the message names): "same" (that label is already on
# that extent), "covers" (a span has exactly that extent), "crosses" (the spans cross),
# "overlaps" (the policy allows no overlap).
OVERLAP = [
    ("nest", 0, 5, "ACTOR", None, None),                      # apart
    ("nest", 20, 30, "ACTOR", None, None),                    # touching both ends
    ("nest", 12, 18, "TARGET", None, None),                   # nested inside
    ("nest", 5, 45, "TARGET", None, None),                    # enclosing both
    ("nest", 10, 20, "TARGET", None, ("covers", "ACTOR")),    # same extent, other label
    ("nest", 10, 20, "ACTOR", None, ("covers", "ACTOR")),     # same extent, same label
    ("nest", 10, 20, "TARGET", "a", None),                    # relabelling a itself
    ("nest", 5, 15, "TARGET", None, ("crosses", "ACTOR")),    # crossing from the left
    ("nest", 15, 25, "TARGET", None, ("crosses", "ACTOR")),   # crossing from the right
    ("nest", 15, 35, "ACTOR", None, ("crosses", "ACTOR")),    # crossing two: the first is named
    ("nest", 10, 35, "ACTOR", None, ("crosses", "TARGET")),   # encloses a, crosses b
    ("none", 20, 30, "ACTOR", None, None),                    # touching is no overlap
    ("none", 12, 18, "TARGET", None, ("overlaps", "ACTOR")),  # nesting is
    ("none", 35, 36, "ACTOR", None, ("overlaps", "TARGET")),
    ("none", 30, 40, "TARGET", "b", None),
    ("any", 15, 35, "ACTOR", None, None),                     # crossing is allowed
    ("any", 10, 20, "TARGET", None, None),                    # same extent, other label
    ("any", 10, 20, "ACTOR", None, ("same", "ACTOR")),        # the same span twice
]

RELATION_SCHEMA = {
    "overlap": "nest",
    "labels": [{"name": name, "color": "#1f77b4", "hotkey": None, "description": "", "attributes": []}
               for name in ("ACTOR", "TARGET", "CLAIM")],
    "relations": [
        {"name": "claimed_by", "head": ["CLAIM"], "tail": ["ACTOR"], "same_label": False},
        {"name": "attacks", "head": ["ACTOR"], "tail": ["ACTOR", "TARGET"], "same_label": False},
        {"name": "same_as", "head": ["ACTOR", "TARGET"], "tail": ["ACTOR", "TARGET"], "same_label": True},
    ],
}

# (relation type, head label, tail label, allowed).
RELATIONS = [
    ("claimed_by", "CLAIM", "ACTOR", True),
    ("claimed_by", "ACTOR", "CLAIM", False),   # the wrong way round
    ("claimed_by", "CLAIM", "TARGET", False),  # a tail it does not take
    ("attacks", "ACTOR", "TARGET", True),
    ("attacks", "ACTOR", "ACTOR", True),
    ("attacks", "TARGET", "ACTOR", False),
    ("same_as", "ACTOR", "ACTOR", True),
    ("same_as", "TARGET", "TARGET", True),
    ("same_as", "ACTOR", "TARGET", False),     # same_label: both ends one label
    ("same_as", "CLAIM", "CLAIM", False),
    ("unknown", "ACTOR", "ACTOR", False),      # a type the schema lacks
]

# The types the chooser offers for a head and tail, in schema order.
OPTIONS = [
    ("ACTOR", "ACTOR", ["attacks", "same_as"]),
    ("ACTOR", "TARGET", ["attacks"]),
    ("CLAIM", "ACTOR", ["claimed_by"]),
    ("TARGET", "CLAIM", []),
]

# Texts whose every offset is asked: is it a boundary, and which cluster does it split?
CLUSTER_TEXTS = [
    "plain ASCII text",
    "one\r\ntwo",                                                       # CRLF is one cluster
    "Me\u0301decins Sans Frontie\u0300res",                             # combining marks
    "\U0001f1f8\U0001f1fe\U0001f1f1\U0001f1fe\U0001f1f8",               # flags, and an odd one
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family",  # a ZWJ sequence
    "ok \U0001f44d\U0001f3fd \u2764\ufe0f",                             # skin tone, variation selector
    "\u1100\u1161\u11a8 \ud55c\uae00",                                  # Hangul jamo and syllables
    "قالت وكالة سانا إن القصف أصاب مدينة حلب",                           # Arabic
    "💩 Ansar 👨🏻‍🚒 𝔘𝔫𝔦",                                                # astral characters
]

# (text, start, end, the range widened to whole clusters).
WIDEN = [
    ("Me\u0301decins", 0, 2, (0, 3)),                     # ends between the e and its accent
    ("Flag \U0001f1f8\U0001f1fe!", 0, 6, (0, 7)),         # ends between the two indicators
    ("\U0001f44d\U0001f3fd yes", 1, 5, (0, 5)),           # starts between thumb and skin tone
    ("a\r\nb", 0, 2, (0, 3)),
    ("plain", 1, 3, (1, 3)),                              # nothing to widen
]

# Texts whose code-point and UTF-16 offsets are converted both ways.
UTF16_TEXTS = ["plain", "حلب", "💩 a 👨🏻‍🚒 b 🇱🇾 c", "𝔘𝔫𝔦", "\U0001f600\U0001f600", "end 💩"]


# --- Python ----------------------------------------------------------------------------------

VERDICT = re.compile(r"^(The same|A|Crosses the|Overlaps the) (\S+) span")
KINDS = {"The same": "same", "A": "covers", "Crosses the": "crosses", "Overlaps the": "overlaps"}


def verdict(message):
    """Return (why, label) of an overlap message, or None: the sides word their details apart."""
    if message is None:
        return None
    kind, label = VERDICT.match(message).groups()
    return KINDS[kind], label


def python_answers():
    spans = [SimpleNamespace(uuid=i, start=s, end=e, label=lab) for i, (s, e, lab) in SPANS.items()]
    overlap = [verdict(overlap_error(policy, spans, start, end, label, ignore))
               for policy, start, end, label, ignore, _ in OVERLAP]
    relations = [relation_error(RELATION_SCHEMA, name, head, tail) is None for name, head, tail, _ in RELATIONS]
    names = [r["name"] for r in RELATION_SCHEMA["relations"]]
    options = [[name for name in names if relation_error(RELATION_SCHEMA, name, head, tail) is None]
               for head, tail, _ in OPTIONS]
    clusters = []
    for text in CLUSTER_TEXTS:
        graphemes = Graphemes(text)
        clusters.append([list(c) if (c := graphemes.cluster_split(o)) else None for o in range(len(text) + 1)])
    widen = [tuple(whole_clusters(text, [[start, end]])[0]) for text, start, end, _ in WIDEN]
    utf16 = []
    for text in UTF16_TEXTS:
        to16 = _utf16(text) or (lambda offset: offset)
        utf16.append([to16(o) for o in range(len(text) + 1)])
    return {"overlap": overlap, "relations": relations, "options": options, "clusters": clusters,
            "widen": widen, "utf16": utf16}


# --- JavaScript ------------------------------------------------------------------------------

JS = """async (t) => {
  const { Rules, wholeClusters } = await import("/static/js/workspace/rules.js");
  const { OffsetIndex, clusterSplit } = await import("/static/js/workspace/offsets.js");
  const spans = Object.entries(t.spans).map(([id, [start, end, label]]) => ({ id, start, end, label }));
  const overlap = t.overlap.map(([policy, start, end, label, ignore]) =>
    new Rules({ overlap: policy, labels: [] }).overlapReason(spans, start, end, label, { ignore }));
  const rules = new Rules(t.schema);
  const relations = t.relations.map(([name, head, tail]) => rules.relationAllowed(name, head, tail));
  const options = t.options.map(([head, tail]) => rules.relationOptions(head, tail).map((r) => r.name));
  const clusters = t.clusters.map((text) => {
    const index = new OffsetIndex(text);
    return [...Array(index.lengthCp + 1).keys()].map((cp) => {
      const c = clusterSplit(index, cp);
      return c ? [c.start, c.end] : null;
    });
  });
  const widen = t.widen.map(([text, start, end]) => {
    const r = wholeClusters(new OffsetIndex(text), { start, end });
    return [r.start, r.end];
  });
  const utf16 = t.utf16.map((text) => {
    const index = new OffsetIndex(text);
    const cps = [...Array(index.lengthCp + 1).keys()];
    const to16 = cps.map((cp) => index.toUtf16(cp));
    // Back again, and from the second half of a surrogate pair: to the character's start, or
    // (rounding up, for a selection's end) past it.
    const back = to16.map((u) => index.toCodePoint(u));
    const inside = [...Array(text.length + 1).keys()].filter((u) => !to16.includes(u))
      .map((u) => [index.toCodePoint(u), index.toCodePoint(u, true)]);
    return { to16, back, inside };
  });
  return { overlap, relations, options, clusters, widen, utf16 };
}"""


@pytest.fixture
def js_answers(page):
    make_user("amira")
    page.goto("/login")  # any page of the app: the modules are imported from its origin
    table = {"spans": SPANS, "overlap": [case[:5] for case in OVERLAP], "schema": RELATION_SCHEMA,
             "relations": [case[:3] for case in RELATIONS], "options": [case[:2] for case in OPTIONS],
             "clusters": CLUSTER_TEXTS, "widen": [case[:3] for case in WIDEN], "utf16": UTF16_TEXTS}
    answers = page.evaluate(JS, table)
    answers["overlap"] = [verdict(message) for message in answers["overlap"]]
    answers["widen"] = [tuple(pair) for pair in answers["widen"]]
    return answers


# --- the comparison --------------------------------------------------------------------------

def test_overlap_policy_and_crossing_spans(js_answers):
    expected = [case[-1] for case in OVERLAP]
    assert python_answers()["overlap"] == expected
    assert js_answers["overlap"] == expected


def test_relation_types_the_schema_allows(js_answers):
    python = python_answers()
    assert python["relations"] == js_answers["relations"] == [case[-1] for case in RELATIONS]
    assert python["options"] == js_answers["options"] == [case[-1] for case in OPTIONS]


def test_grapheme_boundaries_and_widening(js_answers):
    python = python_answers()
    for text, py, js in zip(CLUSTER_TEXTS, python["clusters"], js_answers["clusters"], strict=True):
        assert py == js, text
    assert python["widen"] == js_answers["widen"] == [case[-1] for case in WIDEN]


def test_utf16_and_code_point_conversion(js_answers):
    python = python_answers()
    for text, py, js in zip(UTF16_TEXTS, python["utf16"], js_answers["utf16"], strict=True):
        assert js["to16"] == py == [len(text[:o].encode("utf-16-le")) // 2 for o in range(len(text) + 1)], text
        assert js["back"] == list(range(len(text) + 1)), text
        # Inside a surrogate pair: the character's start, or its end when rounding up.
        assert js["inside"] == [[o, o + 1] for o, ch in enumerate(text) if ord(ch) > 0xFFFF], text
