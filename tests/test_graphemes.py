"""No span starts or ends inside a grapheme cluster: API writes, import, tokens, the CLI.

Offsets stay code points; the server decides where the clusters are with the ``regex``
module's ``\\X`` (pinned in requirements.txt). Every database test runs on SQLite and
PostgreSQL (the ``app`` fixture).
"""

import io
import json
import random
import sys

import pytest
import regex
from sqlalchemy import func
from sqlalchemy import select

from annotator.errors import Invalid
from annotator.extensions import db
from annotator.models import AnnotationSet
from annotator.models import Document
from annotator.models import Span
from annotator.services import importing
from annotator.services.importing import readers
from annotator.services.text import Graphemes
from annotator.services.text import _tokenizer
from annotator.services.text import tokenize
from annotator.services.text import tokenize_many
from annotator.services.text import whole_clusters
from tests.factories import in_app
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user
from tests.factories import token_for
from tests.test_annotations_api import assign

# One grapheme cluster each, of 2 to 7 code points.
CLUSTERS = {
    "flag": "\U0001f1f8\U0001f1fe",  # 🇸🇾: two regional indicators
    "ZWJ family": "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",  # 👨‍👩‍👧‍👦
    "skin tone": "\U0001f44d\U0001f3fd",  # 👍🏽
    "Hangul jamo": "\u1100\u1161\u11a8",  # 각 as conjoining jamo L V T
    "combining mark": "e\u0301",  # é as e + COMBINING ACUTE ACCENT
    "Devanagari conjunct": "\u0915\u094d\u0937\u093f",  # क्षि: KA VIRAMA SSA I-sign (GB9c)
}
TEXT = ("Flag \U0001f1f8\U0001f1fe, family \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466, "
        "thumbs \U0001f44d\U0001f3fd, jamo \u1100\u1161\u11a8, cafe\u0301, conjunct \u0915\u094d\u0937\u093f end.")


def at(name: str) -> tuple[int, int]:
    """Return the code-point [start, end) of the named cluster in TEXT."""
    start = TEXT.index(CLUSTERS[name])
    return start, start + len(CLUSTERS[name])


def setup_doc(text=TEXT):
    amira = make_user("amira")
    project = make_project(members=[amira])
    [did] = make_documents(project, [text])
    assign(did, amira)
    return did, token_for(amira)


def stored_spans(app) -> list[tuple[int, int]]:
    with app.app_context():
        return sorted(tuple(row) for row in db.session.execute(select(Span.start, Span.end)))


def test_this_regex_makes_one_cluster_of_each_case():
    # What the pinned regex gives: the conjunct is one cluster since Unicode 15.1 (GB9c), and
    # "नमस्ते" is three (न, म, स्ते). If an upgrade changes this, the API's answers change too.
    for name, cluster in CLUSTERS.items():
        assert regex.findall(r"\X", cluster) == [cluster], name
    assert regex.findall(r"\X", "\u0928\u092e\u0938\u094d\u0924\u0947") == [
        "\u0928", "\u092e", "\u0938\u094d\u0924\u0947"]
    assert regex.findall(r"\X", "Flag \U0001f1f8\U0001f1fe")[-1] == "\U0001f1f8\U0001f1fe"


@pytest.mark.parametrize("name", CLUSTERS)
def test_post_refuses_a_span_that_starts_or_ends_inside_a_cluster(app, client, name):
    did, amira = setup_doc()
    start, end = at(name)
    for inner in range(start + 1, end):
        for body, field in (({"start": inner, "end": end}, "start"), ({"start": start, "end": inner}, "end")):
            response = client.post(f"/api/v1/documents/{did}/spans", headers=amira,
                                   json={**body, "label": "ACTOR"})
            assert response.status_code == 422, (name, body, response.json)
            assert list(response.json["errors"]) == [field], response.json
            assert f"{start}-{end} is one grapheme cluster" in response.json["errors"][field][0]
    assert stored_spans(app) == []
    whole = client.post(f"/api/v1/documents/{did}/spans", headers=amira,
                        json={"start": start, "end": end, "label": "ACTOR", "text": CLUSTERS[name]})
    assert whole.status_code == 201, whole.json
    assert whole.json["text"] == CLUSTERS[name]


def test_the_flag_of_the_issue_cannot_be_cut_in_half(app, client):
    did, amira = setup_doc("Flag \U0001f1f8\U0001f1fe")
    response = client.post(f"/api/v1/documents/{did}/spans", headers=amira,
                           json={"start": 5, "end": 6, "label": "LOCATION"})
    assert response.status_code == 422
    assert response.json["errors"] == {"end": [
        "Ends inside a character: 5-7 is one grapheme cluster (a letter with its marks, a flag, "
        "an emoji sequence); end at 5 or 7."]}


def test_patch_refuses_moving_an_edge_inside_a_cluster(app, client):
    did, amira = setup_doc()
    start, end = at("ZWJ family")
    created = client.post(f"/api/v1/documents/{did}/spans", headers=amira,
                          json={"id": "fam", "start": start, "end": end, "label": "ACTOR"})
    assert created.status_code == 201
    for changes, field in (({"end": end - 2}, "end"), ({"start": start + 1}, "start"),
                           ({"start": at("flag")[0] + 1, "end": end}, "start")):
        response = client.patch(f"/api/v1/documents/{did}/spans/fam", headers={**amira, "If-Match": '"1"'},
                                json=changes)
        assert response.status_code == 422, (changes, response.json)
        assert field in response.json["errors"]
    widened = client.patch(f"/api/v1/documents/{did}/spans/fam", headers={**amira, "If-Match": '"1"'},
                           json={"start": at("flag")[0]})
    assert widened.status_code == 200 and widened.json["version"] == 2
    assert stored_spans(app) == [(at("flag")[0], end)]


def test_bulk_put_reports_each_split_by_item_and_stores_nothing(app, client):
    did, amira = setup_doc()
    spans = [{"id": f"s{i}", "start": at(name)[0], "end": at(name)[1], "label": "ACTOR"}
             for i, name in enumerate(CLUSTERS)]
    bad = [dict(spans[0], end=at("flag")[0] + 1), spans[1], dict(spans[2], start=at("skin tone")[0] + 1),
           dict(spans[3], end=at("Hangul jamo")[1] - 1), spans[4],
           dict(spans[5], start=at("Devanagari conjunct")[0] + 2)]
    response = client.put(f"/api/v1/documents/{did}/annotations", headers={**amira, "If-Match": "0"},
                          json={"spans": bad})
    assert response.status_code == 422, response.json
    assert "spans" not in response.json["errors"], response.json
    assert set(response.json["errors"]) == {"spans.0.end", "spans.2.start", "spans.3.end", "spans.5.start"}
    assert stored_spans(app) == []
    done = client.put(f"/api/v1/documents/{did}/annotations", headers={**amira, "If-Match": "0"},
                      json={"spans": spans})
    assert done.status_code == 200, done.json
    assert [s["text"] for s in done.json["spans"]] == list(CLUSTERS.values())


def import_jsonl(project, *records, **options):
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
    return importing.import_records(project, readers.iter_upload(io.BytesIO(data), "spans.jsonl", None),
                                    **options)


@pytest.mark.parametrize("mode", ["as_user", "suggestions"])
def test_import_refuses_pre_annotated_spans_that_split_a_cluster_by_line(app, mode):
    amira = make_user("amira")
    project = make_project(members=[amira])
    options = {"as_user": amira} if mode == "as_user" else {"suggestions": True}
    flag, conjunct = at("flag"), at("Devanagari conjunct")
    good = {"text": TEXT, "spans": [{"start": flag[0], "end": flag[1], "label": "LOCATION"}]}
    bad = {"text": TEXT + " 2", "spans": [{"start": flag[0], "end": flag[0] + 1, "label": "LOCATION"},
                                          {"start": conjunct[0] + 1, "end": conjunct[1], "label": "ACTOR"}]}
    with app.app_context():
        with pytest.raises(Invalid) as caught:
            import_jsonl(project, good, bad, **options)
        assert list(caught.value.errors) == ["2"]
        assert caught.value.errors["2"] == [
            f"span 0: end: Ends inside a character: {flag[0]}-{flag[1]} is one grapheme cluster (a letter "
            f"with its marks, a flag, an emoji sequence); end at {flag[0]} or {flag[1]}.",
            f"span 1: start: Starts inside a character: {conjunct[0]}-{conjunct[1]} is one grapheme cluster "
            f"(a letter with its marks, a flag, an emoji sequence); start at {conjunct[0]} or {conjunct[1]}."]
        assert db.session.scalar(select(func.count()).select_from(Document)) == 0
        report = import_jsonl(project, good, **options)
        assert report.created == 1
        [span] = db.session.scalars(select(Span).join(AnnotationSet)).all()
        assert (span.start, span.end) == flag


def spacy_tokens(text: str) -> list[list[int]]:
    """Return spaCy's own tokens, before clusters are made whole."""
    return [[t.idx, t.idx + len(t.text)] for t in _tokenizer("en")(text) if not t.is_space]


def test_import_merges_tokens_that_split_a_cluster(app):
    text = ("Flag \U0001f1f8\U0001f1fe family \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 "
            "ok \U0001f44d\U0001f3fd fine")
    words = ["Flag", "\U0001f1f8\U0001f1fe", "family",
             "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466", "ok", "\U0001f44d\U0001f3fd", "fine"]
    # The premise: spaCy splits the flag in 2, the family into its people and joiners, the
    # thumbs-up from its skin tone.
    raw = [text[s:e] for s, e in spacy_tokens(text)]
    assert raw.count("\U0001f1f8") == 1 and raw.count("\U0001f3fd") == 1 and raw.count("\u200d") == 3
    [did] = make_documents(make_project(), [text])
    with app.app_context():
        tokens = db.session.get(Document, did).tokens
    assert [text[s:e] for s, e in tokens] == words
    assert tokenize(text) == tokens and tokenize_many([text, "plain"], "en") == [tokens, [[0, 5]]]


def test_tokens_of_every_case_keep_clusters_whole():
    graphemes = Graphemes(TEXT)
    for tokens in (tokenize(TEXT), tokenize_many([TEXT], "xx")[0]):
        assert all(graphemes.is_boundary(s) and graphemes.is_boundary(e) for s, e in tokens)
        assert {TEXT[s:e] for s, e in tokens} >= set(CLUSTERS.values()) - {"e\u0301"}
    # A mark after a space belongs to the space's cluster: the token takes the space in.
    assert whole_clusters("a \u0301b", [[0, 1], [2, 4]]) == [[0, 1], [1, 4]]


@in_app
def split_stored_tokens(did: int) -> list[list[int]]:
    """Store spaCy's own tokens (split clusters) on the document, as an old import did."""
    document = db.session.get(Document, did)
    good = document.tokens
    document.tokens = spacy_tokens(document.text)
    db.session.commit()
    return good


@in_app
def stored_tokens(did: int) -> list[list[int]]:
    return db.session.get(Document, did).tokens


def test_cli_retokenize_fixes_the_stored_tokens_that_split_a_cluster(app, runner):
    project = make_project(name="Syria")
    other = make_project(name="Libya")
    split, plain = make_documents(project, ["Flag \U0001f1f8\U0001f1fe here", "No emoji here."])
    [elsewhere] = make_documents(other, ["Also \U0001f44d\U0001f3fd"])
    good = split_stored_tokens(split)
    assert stored_tokens(split) != good
    dry = runner.invoke(args=["documents", "retokenize", "--project", "Syria", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Checked 2 documents in 'Syria': tokens would change in 1 (dry run: nothing stored)." in dry.output
    assert stored_tokens(split) != good
    done = runner.invoke(args=["documents", "retokenize", "--project", "Syria"])
    assert done.exit_code == 0, done.output
    assert "Checked 2 documents in 'Syria': tokens changed in 1." in done.output
    assert stored_tokens(split) == good == [[0, 4], [5, 7], [8, 12]]
    again = runner.invoke(args=["documents", "retokenize"])
    assert "Checked 3 documents in every project: tokens changed in 0." in again.output
    assert stored_tokens(plain) == [[0, 2], [3, 8], [9, 13], [13, 14]]
    assert stored_tokens(elsewhere) == [[0, 4], [5, 7]]
    missing = runner.invoke(args=["documents", "retokenize", "--project", "Atlantis"])
    assert missing.exit_code == 1 and "Error:" in missing.output


# --- the boundary check itself ---------------------------------------------------------------

ALPHABET = ["a", " ", "\n", "e", "\u0301", "\u0300", "\u200d", "\U0001f468", "\U0001f469", "\U0001f1f8",
            "\U0001f1fe", "\U0001f44d", "\U0001f3fd", "\u1100", "\u1161", "\u11a8", "\uac00", "\uac01",
            "\u0915", "\u094d", "\u0937", "\u093f", "\u0600", "1", "\u0903", "\u00a9", "\ufe0f", "\u0644",
            "\u064e", "\t", "\u00ad", "\u0e33", "\u09cd", "\u0995", "\r"]


def boundaries(text: str) -> set[int]:
    return {m.start() for m in regex.finditer(r"\X", text)} | {len(text)}


@pytest.mark.parametrize("window", [1, 3, Graphemes.WINDOW])
def test_the_local_check_agrees_with_a_scan_of_the_whole_text(window):
    rng = random.Random(10)
    for _ in range(400):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 40)))
        truth = sorted(boundaries(text))
        graphemes = Graphemes(text)
        graphemes.WINDOW = window  # small windows take the path that finds every boundary
        for offset in range(len(text) + 1):
            split = graphemes.cluster_split(offset)
            if offset in truth:
                assert split is None, (text, offset)
            else:
                assert split == (max(t for t in truth if t < offset), min(t for t in truth if t > offset))


def test_long_clusters_and_runs_of_flags_are_checked_correctly():
    marks = "x" + "e" + "\u0301" * 5000 + " y"
    graphemes = Graphemes(marks)
    assert graphemes.cluster_split(1 + 2500) == (1, 5002)
    assert graphemes.is_boundary(1) and graphemes.is_boundary(5002)
    # 301 regional indicators in a row: pairs from the start, so the parity decides.
    flags = "\U0001f1f8\U0001f1fe" * 150 + "\U0001f1f8"
    graphemes = Graphemes(flags)
    assert [o for o in range(len(flags) + 1) if graphemes.is_boundary(o)] == list(range(0, 301, 2)) + [301]


def test_the_token_tables_cover_every_character_a_rule_may_join():
    from annotator.services.text import _JOINING_PAIRS
    from annotator.services.text import _PAIR_PLANES

    scanned = {c for low, high in _PAIR_PLANES for c in range(low, high)}
    rest = "".join(chr(c) for c in range(sys.maxunicode + 1) if c not in scanned)
    classes = {side for pair in _JOINING_PAIRS for side in pair if side}
    assert regex.search("|".join(classes), rest) is None
