"""The casualty-claim count parser against docs/scheme.md's table and every claim of the sample corpus."""

import pytest

from annotator.services.counts import COUNT_KEYS
from annotator.services.counts import parse_count
from tests.factories import corpus_records

TABLE = [
    ("three people", "three", 3, 3, 3, "exact"),
    ("14 children", "14", 14, 14, 14, "exact"),
    ("killed a commander", "a", 1, 1, 1, "exact"),
    ("one soldier", "one", 1, 1, 1, "exact"),
    ("wounded his sister", None, 1, 1, 1, "exact"),
    ("at least 40 civilians", "at least 40", 40, 40, None, "at_least"),
    ("more than 80 wounded", "more than 80", 80, 81, None, "more_than"),
    ("over 80 people", "over 80", 80, 81, None, "more_than"),
    ("almost 100 people dead", "almost 100", 100, None, 99, "almost"),
    ("nearly 60 killed", "nearly 60", 60, None, 59, "almost"),
    ("up to 15 people", "up to 15", 15, None, 15, "up_to"),
    ("about 40 dead", "about 40", 40, None, None, "approximate"),
    ("around 40 dead", "around 40", 40, None, None, "approximate"),
    ("some 40 dead", "some 40", 40, None, None, "approximate"),
    ("between 12 and 15 people", "between 12 and 15", None, 12, 15, "range"),
    ("dozens of residents", "dozens", None, 12, None, "vague"),
    ("tens of people", "tens", None, 10, None, "vague"),
    ("hundreds killed", "hundreds", None, 100, None, "vague"),
    ("thousands displaced and killed", "thousands", None, 1000, None, "vague"),
    ("several people", "several", None, None, None, "vague"),
    ("many were hurt", "many", None, None, None, "vague"),
    ("more than 1,100 civilians", "more than 1,100", 1100, 1101, None, "more_than"),
    ("twenty-five dead", "twenty-five", 25, 25, 25, "exact"),
    ("killed a 12-year-old boy", "a", 1, 1, 1, "exact"),
    ("a 13th victim and two others", "two", 2, 2, 2, "exact"),
]


@pytest.mark.parametrize("phrase, text, value, low, high, qualifier", TABLE, ids=[t[0] for t in TABLE])
def test_phrases_of_the_normalisation_table(phrase, text, value, low, high, qualifier):
    got = parse_count(phrase)
    assert (got["count_text"], got["count_value"], got["count_low"], got["count_high"], got["qualifier"]) == \
        (text, value, low, high, qualifier)
    assert got["polarity"] == "positive"


@pytest.mark.parametrize("phrase", ["no casualties", "no members of the security forces were hurt",
                                    "without causing casualties", "denied any losses"])
def test_negatives_have_no_count_and_negative_polarity(phrase):
    got = parse_count(phrase)
    assert got["qualifier"] == "none" and got["polarity"] == "negative"
    assert got["count_text"] is got["count_value"] is got["count_low"] is got["count_high"] is None


def corpus_claims():
    return [(record["id"], span) for record in corpus_records() for span in record["spans"]
            if span["label"] == "CASUALTY_CLAIM"]


def test_every_claim_of_the_sample_corpus_parses_as_its_gold_attributes():
    """Accuracy per attribute over the corpus (docs/workspace.md reports it); all must match."""
    claims = corpus_claims()
    assert len(claims) >= 30
    right = dict.fromkeys(COUNT_KEYS, 0)
    wrong = []
    for record_id, span in claims:
        got = parse_count(span["text"])
        for key in COUNT_KEYS:
            if got[key] == span["attrs"].get(key):
                right[key] += 1
            else:
                wrong.append((record_id, span["text"], key, got[key], span["attrs"].get(key)))
    accuracy = {key: right[key] / len(claims) for key in COUNT_KEYS}
    assert accuracy == dict.fromkeys(COUNT_KEYS, 1.0), wrong


def test_outcome_is_suggested_only_when_an_outcome_word_is_present():
    claims = corpus_claims()
    suggested = [(span, parse_count(span["text"]).get("outcome")) for _, span in claims]
    made = [(span, outcome) for span, outcome in suggested if outcome is not None]
    assert all(outcome == span["attrs"]["outcome"] for span, outcome in made)
    assert len(made) >= len(claims) - 2
