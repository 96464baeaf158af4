"""Import: formats, normalisation, pre-annotations, dedupe, atomicity and the bad-input list.

Every test runs on SQLite and PostgreSQL (the ``app`` fixture). Bad input must give a clear,
located error and store nothing; good input must store every character as given.
"""

import io
import json
import zipfile

import pytest
from sqlalchemy import func
from sqlalchemy import select

from annotator.errors import Invalid
from annotator.extensions import db
from annotator.models import AnnotationSet
from annotator.models import Assignment
from annotator.models import Document
from annotator.models import Event
from annotator.models import Span
from annotator.models import User
from annotator.services import importing
from annotator.services.importing import cleaning
from annotator.services.importing import readers
from annotator.services.text import tokenize
from annotator.services.text import tokenize_many
from tests.factories import CORPUS
from tests.factories import corpus_records
from tests.factories import make_project
from tests.factories import make_user
from tests.factories import token_for

NAV_ONLY = ("<!doctype html><html><head><title>Menu</title></head><body><nav><ul>"
            "<li><a href='/'>Home</a></li><li><a href='/world'>World</a></li><li><a href='/sport'>Sport</a></li>"
            "<li><a href='/about'>About us</a></li><li><a href='/contact'>Contact</a></li></ul></nav>"
            "<footer><a href='/privacy'>Privacy policy</a> <a href='/terms'>Terms</a></footer></body></html>")
ARTICLE_HTML = (
    "<!doctype html><html><head><title>Rockets hit Aleppo | Levant Wire</title>"
    "<meta property='og:url' content='https://example.org/news/aleppo'>"
    "<meta name='date' content='2024-02-11'></head><body>"
    "<nav><ul><li><a href='/'>Home</a></li><li><a href='/world'>World</a></li></ul></nav>"
    "<main><article><h1>Rockets hit Aleppo</h1>"
    "<p>Rocket fire on the western districts of Aleppo (حلب) left almost 100 people dead over the weekend, "
    "according to SANA, the state news agency.</p>"
    "<p>A spokesman for the brigade denied that his fighters had fired a single shell — “government "
    "artillery” was to blame.</p>"
    "<p>Medics at a field hospital reported treating more than 80 wounded, many with shrapnel injuries.</p>"
    "</article></main><footer><p>© 2024 Levant Wire.</p></footer></body></html>")


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def run_import(project, data: bytes, filename: str, fmt=None, **options):
    """Import an in-memory file the way an upload is imported."""
    records = readers.iter_upload(io.BytesIO(data), filename, fmt, text_column=options.pop("text_column", None))
    return importing.import_records(project, records, **options)


def jsonl(*records) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def rejected(app, project, data, filename, **options) -> Invalid:
    """Import and expect a rejection that stores nothing; return the error."""
    with app.app_context():
        with pytest.raises(Invalid) as caught:
            run_import(project, data, filename, **options)
        assert count(Document) == 0 and count(Span) == 0 and count(AnnotationSet) == 0
    return caught.value


@pytest.fixture
def project():
    return make_project(members=[make_user("amira")])


def assert_matches_corpus(records, by_external_id=True, annotator="amira"):
    """Check every text byte for byte and every span and relation against the records."""
    for record in records:
        document = db.session.scalar(select(Document).where(Document.external_id == record["id"]))
        assert document.text.encode("utf-8") == record["text"].encode("utf-8")
        assert document.text_sha256 == importing.text_sha256(record["text"])
        assert document.meta == record["meta"]
        assert document.tokens == tokenize(document.text, document.lang)
        annotation_set = db.session.scalar(select(AnnotationSet).where(AnnotationSet.document_id == document.id))
        stored = sorted((s.start, s.end, s.label, json.dumps(s.attrs, sort_keys=True)) for s in annotation_set.spans)
        given = sorted((s["start"], s["end"], s["label"], json.dumps(s.get("attrs") or {}, sort_keys=True))
                       for s in record["spans"])
        assert stored == given
        for span in annotation_set.spans:
            assert document.text[span.start:span.end] in {s["text"] for s in record["spans"]}
        spans = record["spans"]
        by_id = {s.id: s for s in annotation_set.spans}
        stored_relations = sorted(((by_id[r.head_id].start, by_id[r.head_id].end),
                                   (by_id[r.tail_id].start, by_id[r.tail_id].end), r.label)
                                  for r in annotation_set.relations)
        given_relations = sorted(((spans[r["head"]]["start"], spans[r["head"]]["end"]),
                                  (spans[r["tail"]]["start"], spans[r["tail"]]["end"]), r["label"])
                                 for r in record["relations"])
        assert stored_relations == given_relations


# --- the sample corpus -----------------------------------------------------------------------

def test_admin_can_import_the_sample_corpus_with_the_cli_byte_for_byte(app, runner, project):
    result = runner.invoke(args=["import", project.name, str(CORPUS), "--as", "amira"])
    assert result.exit_code == 0, result.output
    assert "Imported 8 documents" in result.output
    with app.app_context():
        assert_matches_corpus(corpus_records())
        statuses = db.session.scalars(select(Assignment.status)).all()
        assert statuses == ["in_progress"] * 8


def test_cli_reimport_reports_duplicates_and_stores_nothing_new(app, runner, project):
    runner.invoke(args=["import", str(project.id), str(CORPUS), "--as", "amira"])
    result = runner.invoke(args=["import", str(project.id), str(CORPUS), "--as", "amira"])
    assert result.exit_code == 0, result.output
    assert "Imported 0 documents" in result.output and "8 duplicates" in result.output
    with app.app_context():
        assert count(Document) == 8 and count(AnnotationSet) == 8


def test_corpus_spans_can_become_suggestions(app, project):
    with app.app_context():
        report = importing.import_records(project, enumerate(corpus_records(), 1), suggestions=True)
        assert report.created == 8
        kinds = set(db.session.scalars(select(AnnotationSet.kind)))
        assert kinds == {"suggestion"} and count(Assignment) == 0


def test_spans_without_an_owner_are_refused(app, project):
    with app.app_context():
        with pytest.raises(Invalid) as caught:
            importing.import_records(project, enumerate(corpus_records(), 1))
        assert set(caught.value.errors) == {str(n) for n in range(1, 9)}
        assert "as_user" in caught.value.errors["1"][0]
        assert count(Document) == 0


def test_as_user_must_be_a_project_member(app, runner, project):
    make_user("outsider")
    result = runner.invoke(args=["import", project.name, str(CORPUS), "--as", "outsider"])
    assert result.exit_code == 1 and "not a member" in result.output
    with app.app_context():
        assert count(Document) == 0


# --- the bad-input list ----------------------------------------------------------------------

def test_utf8_bom_is_stripped_and_spans_remapped(app, project):
    text = "\ufeffRocket fire hit Aleppo."
    record = {"id": "b1", "text": text, "spans": [{"start": 17, "end": 23, "text": "Aleppo", "label": "LOCATION"}]}
    data = b"\xef\xbb\xbf" + jsonl(record)  # a BOM before the file and one inside the text
    with app.app_context():
        report = run_import(project, data, "bom.jsonl", suggestions=True)
        assert report.created == 1
        document = db.session.scalar(select(Document))
        assert document.text == "Rocket fire hit Aleppo."
        span = db.session.scalar(select(Span))
        assert (span.start, span.end) == (16, 22) and document.text[span.start:span.end] == "Aleppo"
    with app.app_context():
        run_import(project, b"\xef\xbb\xbfA plain text file.\n", "bom.txt")
        assert db.session.scalar(select(Document.text).where(Document.external_id == "bom.txt")) == \
            "A plain text file.\n"


def test_crlf_and_cr_become_lf_and_spans_follow(app, project):
    text = "Line one.\r\nLine two.\rAleppo was shelled.\r\n"
    start = text.index("Aleppo")
    record = {"text": text, "spans": [{"start": start, "end": start + 6, "text": "Aleppo", "label": "LOCATION"}]}
    with app.app_context():
        run_import(project, jsonl(record), "crlf.jsonl", suggestions=True)
        document = db.session.scalar(select(Document))
        assert document.text == "Line one.\nLine two.\nAleppo was shelled.\n"
        span = db.session.scalar(select(Span))
        assert document.text[span.start:span.end] == "Aleppo" and span.start == start - 1
    with app.app_context():
        run_import(project, b"First line\r\nsecond line\r\n", "crlf.txt")
        assert db.session.scalar(select(Document.text).where(Document.external_id == "crlf.txt")) == \
            "First line\nsecond line\n"


def test_invalid_utf8_bytes_are_refused_with_their_line(app, project):
    data = jsonl({"text": "fine"}) + b'{"text": "bad \xff byte"}\n'
    error = rejected(app, project, data, "bad.jsonl")
    assert "UTF-8" in error.errors["2"][0] and "0xff" in error.errors["2"][0]
    error = rejected(app, project, b"caf\xe9 au lait\nsecond line", "latin1.txt")
    assert "UTF-8" in error.errors["1"][0]


def test_nul_character_is_refused_with_its_line(app, project):
    data = jsonl({"text": "ok"}, {"text": "first line\nsecond \u0000 line"})
    error = rejected(app, project, data, "nul.jsonl")
    assert error.errors["2"] == ["Line 2 of the text contains a NUL character."]
    error = rejected(app, project, jsonl({"text": "ok", "meta": {"source": "a\u0000b"}}), "nul-meta.jsonl")
    assert "NUL" in error.errors["1"][0]


def test_lone_surrogate_in_json_is_refused(app, project):
    data = b'{"text": "an emoji half \\ud83d here"}\n'
    error = rejected(app, project, data, "surrogate.jsonl")
    assert "lone surrogate (U+D83D)" in error.errors["1"][0]
    error = rejected(app, project, b'{"text": "ok", "meta": {"title": "\\udc00"}}\n', "surrogate-meta.jsonl")
    assert "lone surrogate" in error.errors["1"][0]


def test_record_without_text_is_refused(app, project):
    error = rejected(app, project, jsonl({"text": "fine"}, {"id": "x", "meta": {}}, {"text": "   "}), "t.jsonl")
    assert error.errors == {"2": ["The record has no text."], "3": ["The record has no text."]}
    assert "2 of 3 record(s) are invalid" in error.message


@pytest.mark.parametrize("filename, data", [("empty.jsonl", b""), ("blank.jsonl", b"\n\n  \n"),
                                            ("empty.txt", b""), ("empty.json", b"  "), ("empty.csv", b"")])
def test_empty_file_is_refused(app, project, filename, data):
    error = rejected(app, project, data, filename)
    assert "empty" in error.message.lower()


def test_deeply_nested_json_is_a_clear_error(app, project):
    deep = b"[" * 10_000 + b"]" * 10_000
    error = rejected(app, project, deep, "deep.json")
    assert error.errors == {"1": ["The JSON is nested too deeply."]}
    line = b'{"text": "x", "meta": {"a": ' + b"[" * 10_000 + b"]" * 10_000 + b"}}\n"
    error = rejected(app, project, line, "deep.jsonl")
    assert error.errors == {"1": ["The JSON is nested too deeply."]}
    moderately = b'{"text": "x", "meta": {"a": ' + b"[" * 100 + b"]" * 100 + b"}}\n"
    error = rejected(app, project, moderately, "deep2.jsonl")
    assert "nested more than" in error.errors["1"][0]


def test_duplicate_external_ids_are_refused(app, project):
    data = jsonl({"id": "A1", "text": "one"}, {"id": "A2", "text": "two"}, {"id": "A1", "text": "three"})
    error = rejected(app, project, data, "dupe.jsonl")
    assert error.errors == {"3": ["external id 'A1' is already used by another document."]}
    with app.app_context():
        run_import(project, jsonl({"id": "A1", "text": "one"}), "first.jsonl")
        with pytest.raises(Invalid) as caught:
            run_import(project, jsonl({"id": "A1", "text": "another text"}), "second.jsonl")
        assert caught.value.errors == {"1": ["external id 'A1' is already used by another document."]}
        assert count(Document) == 1


def test_span_whose_text_does_not_match_is_refused(app, project):
    record = {"text": "Rocket fire hit Aleppo.", "spans": [{"start": 0, "end": 6, "text": "Rocket", "label": "WEAPON"},
                                                           {"start": 5, "end": 10, "text": "Hamas", "label": "ACTOR"}]}
    error = rejected(app, project, jsonl(record), "span.jsonl", suggestions=True)
    assert error.errors["1"] == ["span 1: text: Does not match the document text at 5-10: 't fir'."]


def test_unknown_labels_forbidden_attributes_and_bad_relations_are_listed(app, project):
    record = {"text": "Rocket fire hit Aleppo.",
              "spans": [{"start": 0, "end": 6, "label": "BOMB"},
                        {"start": 16, "end": 22, "label": "LOCATION", "attrs": {"count_value": 3}},
                        {"start": 7, "end": 11, "label": "WEAPON", "attrs": {"weapon_class": "laser"}}],
              "relations": [{"head": 0, "tail": 1, "label": "place"}, {"head": 2, "tail": 2, "label": "coref"}]}
    error = rejected(app, project, jsonl(record), "labels.jsonl", suggestions=True)
    problems = error.errors["1"]
    assert "span 0: unknown label 'BOMB'." in problems
    assert "span 1: LOCATION has no attribute 'count_value'." in problems
    assert any(p.startswith("span 2: weapon_class must be one of") for p in problems)
    assert any(p.startswith("relation 0: head must be") for p in problems)


def test_html_page_of_only_navigation_is_refused(app, project):
    error = rejected(app, project, NAV_ONLY.encode(), "menu.html")
    assert "No main text found" in error.errors["1"][0]


def test_zip_with_a_path_outside_the_archive_is_refused(app, project):
    for bad in ("../../x.txt", "/etc/x.txt", "a/../../x.txt", "C:/x.txt"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("good.txt", "A good article.")
            archive.writestr(bad, "An article that would land outside.")
        error = rejected(app, project, buffer.getvalue(), "articles.zip")
        assert "unsafe paths" in error.message
        assert list(error.errors) == [bad]


# --- formats ---------------------------------------------------------------------------------

def test_zip_of_text_and_html_files_imports_each_member(app, project):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("news/one.txt", "First article.\r\nSecond line.")
        archive.writestr("news/two.html", ARTICLE_HTML)
        archive.writestr("__MACOSX/news/._one.txt", "junk")
        archive.writestr("news/data.jsonl", jsonl({"id": "J1", "text": "From JSON lines."}))
    with app.app_context():
        report = run_import(project, buffer.getvalue(), "articles.zip")
        assert report.created == 3
        texts = dict(db.session.execute(select(Document.external_id, Document.text)).all())
        assert texts["news/one.txt"] == "First article.\nSecond line."
        assert texts["J1"] == "From JSON lines."
        assert "almost 100 people dead" in texts["news/two.html"]


def test_zip_member_errors_name_the_member(app, project):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "Fine.")
        archive.writestr("b.txt", b"bad \xff")
        archive.writestr("c.pdf", b"%PDF")
    error = rejected(app, project, buffer.getvalue(), "x.zip")
    assert set(error.errors) == {"b.txt:1", "c.pdf:1"}
    with app.app_context():
        report = run_import(project, buffer.getvalue(), "x.zip", skip_invalid=True)
        assert report.created == 1
        assert [e["file"] for e in report.as_dict()["errors"]] == ["b.txt", "c.pdf"]


def test_zip_with_too_many_members_is_refused(app, project):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for n in range(5):
            archive.writestr(f"{n}.txt", f"Article {n}.")
    with app.app_context():
        records = readers.iter_upload(io.BytesIO(buffer.getvalue()), "x.zip",
                                      limits=readers.Limits(zip_members=4))
        with pytest.raises(Invalid, match="limit is 4"):
            importing.import_records(project, records)
        assert count(Document) == 0


def test_html_page_gives_main_text_title_date_and_url(app, project):
    with app.app_context():
        run_import(project, ARTICLE_HTML.encode(), "page.html")
        document = db.session.scalar(select(Document))
        assert document.meta["title"].startswith("Rockets hit Aleppo")
        assert document.meta["date"] == "2024-02-11"
        assert document.meta["url"] == "https://example.org/news/aleppo"
        assert "Home" not in document.text and "© 2024" not in document.text
        assert "(حلب)" in document.text and "“government artillery”" in document.text


def test_csv_text_column_and_metadata(app, project):
    data = ("id,headline,body,lang\r\n"
            'c1,"Shelling, again","Shells fell on ""the market"".\r\nTwo died.",en\r\n'
            "c2,خبر,قال المتحدث إن 14 طفلا قتلوا في حلب.,ar\r\n").encode()
    with app.app_context():
        report = run_import(project, data, "news.csv", text_column="body")
        assert report.created == 2
        first, second = db.session.scalars(select(Document).order_by(Document.id)).all()
        assert first.external_id == "c1" and first.text == 'Shells fell on "the market".\nTwo died.'
        assert first.meta == {"headline": "Shelling, again", "lang": "en"}
        assert second.lang == "ar" and second.text == "قال المتحدث إن 14 طفلا قتلوا في حلب."
        assert [second.text[s:e] for s, e in second.tokens][-2:] == ["حلب", "."]


def test_csv_without_the_text_column_names_the_columns(app, project):
    error = rejected(app, project, b"headline,story\nA,B\n", "x.csv")
    assert error.errors == {"text_column": ["Columns: headline, story."]}


def test_json_array_and_documents_object(app, project):
    array = json.dumps([{"id": "a", "text": "One."}, {"id": "b", "text": "Two."}]).encode()
    wrapped = json.dumps({"documents": [{"id": "c", "text": "Three."}]}).encode()
    with app.app_context():
        assert run_import(project, array, "a.json").created == 2
        assert run_import(project, wrapped, "b.json").created == 1
    with app.app_context():
        with pytest.raises(Invalid) as caught:
            run_import(make_project(), b'[{"text": "One."}, {"text": ', "broken.json")
        assert list(caught.value.errors) == ["2"] and count(Document) == 3


def test_json_refuses_nan_and_infinite_numbers(app, project):
    error = rejected(app, project, b'{"text": "x", "meta": {"score": NaN}}\n{"text": "y", "meta": {"n": 1e999}}\n',
                     "nan.jsonl")
    assert set(error.errors) == {"1", "2"}


def test_unknown_fields_are_refused_rather_than_ignored(app, project):
    error = rejected(app, project, jsonl({"text": "x", "label": [[0, 1, "ACTOR"]]}), "doccano.jsonl")
    assert error.errors["1"] == ["Unknown field 'label'."]


def test_text_over_the_document_limit_is_refused(app, project):
    with app.app_context():
        with pytest.raises(Invalid) as caught:
            importing.import_records(project, [(1, {"text": "x" * 101})], max_chars=100)
        assert caught.value.errors == {"1": ["The text has 101 characters; the limit is 100."]}


def test_arabic_and_emoji_keep_code_point_offsets(app, project):
    text = "💩 قال المتحدث إن 14 طفلا قتلوا في حلب 🇸🇾."
    start = text.index("حلب")
    record = {"text": text, "meta": {"lang": "ar"},
              "spans": [{"start": start, "end": start + 3, "text": "حلب", "label": "LOCATION"}]}
    with app.app_context():
        run_import(project, jsonl(record), "ar.jsonl", suggestions=True)
        document = db.session.scalar(select(Document))
        assert document.text == text and document.lang == "ar"
        assert document.tokens == tokenize(text, "ar")
        assert [text[s:e] for s, e in document.tokens][:2] == ["💩", "قال"]


# --- skip_invalid, atomicity, batches --------------------------------------------------------

def test_skip_invalid_stores_the_valid_records_and_reports_the_rest(app, project):
    data = jsonl({"text": "one"}, {"meta": {}}, {"text": "two"}) + b"not json\n"
    with app.app_context():
        report = run_import(project, data, "mixed.jsonl", skip_invalid=True)
        assert report.created == 2 and report.error_count == 2
        assert [(e["line"], e["message"][:12]) for e in report.as_dict()["errors"]] == \
            [(2, "The record h"), (4, "Not valid JS")]
        assert count(Document) == 2


def test_an_error_after_several_batches_rolls_everything_back(app, project):
    records = [(n, {"text": f"Article number {n}."}) for n in range(1, 30)] + [(30, {"text": ""})]
    with app.app_context():
        with pytest.raises(Invalid):
            importing.import_records(project, records, batch_size=7)
        assert count(Document) == 0 and count(Event) == 0
        report = importing.import_records(project, records[:-1], batch_size=7)
        assert report.created == 29 and report.document_ids == sorted(report.document_ids)
        texts = db.session.scalars(select(Document.text).order_by(Document.id)).all()
        assert texts == [f"Article number {n}." for n in range(1, 30)]


def test_duplicates_within_one_file_are_reported(app, project):
    data = jsonl({"id": "a", "text": "Same text."}, {"text": "Same text."}, {"id": "c", "text": "Other."})
    with app.app_context():
        report = run_import(project, data, "d.jsonl")
        assert report.created == 2
        first_id = report.document_ids[0]
        assert report.duplicates == [{"line": 2, "external_id": None, "document_id": first_id}]


def test_import_is_recorded_in_the_audit_log(app, project):
    with app.app_context():
        importing.import_records(project, [(1, {"text": "One."})])
        event = db.session.scalar(select(Event))
        assert event.action == "document.import" and event.after["created"] == 1


# --- clean -----------------------------------------------------------------------------------

SCRAPED = ("Skip to main content\n"
           "Rockets hit Aleppo\n"
           "\n"
           "Advertisement\n"
           "\n"
           "\n"
           "Rocket fire killed   almost 100 people — Share this — said SANA.\n"
           "Scroll to Continue\n"
           "Recommended for You\n"
           "Medics treated 80 wounded.\n"
           "Share on Facebook\n"
           "Subscribe to our newsletter\n"
           "\n")


def test_clean_drops_boilerplate_lines_and_keeps_paragraphs_intact():
    cleaned, removed = cleaning.clean(SCRAPED)
    assert cleaned == ("Rockets hit Aleppo\n\nRocket fire killed   almost 100 people — Share this — said SANA.\n"
                       "Medics treated 80 wounded.\n")
    assert len(SCRAPED) - len(removed) == len(cleaned)


def test_clean_remaps_spans_and_refuses_spans_on_removed_lines(app, project):
    start = SCRAPED.index("almost 100 people")
    ok = {"text": SCRAPED, "spans": [{"start": start, "end": start + 17, "text": "almost 100 people",
                                      "label": "CASUALTY_CLAIM"}]}
    ad = SCRAPED.index("Advertisement")
    bad = {"text": SCRAPED + "x", "spans": [{"start": ad, "end": ad + 13, "label": "ACTOR"}]}
    with app.app_context():
        importing.import_records(project, [(1, ok)], clean=True, suggestions=True)
        document = db.session.scalar(select(Document))
        span = db.session.scalar(select(Span))
        assert document.text[span.start:span.end] == "almost 100 people"
        with pytest.raises(Invalid) as caught:
            importing.import_records(project, [(1, bad)], clean=True, suggestions=True)
        assert caught.value.errors["1"] == ["span 0: the span covers a line that cleaning removes."]


def test_without_clean_the_text_is_stored_as_given(app, project):
    with app.app_context():
        importing.import_records(project, [(1, {"text": SCRAPED})])
        assert db.session.scalar(select(Document.text)) == SCRAPED


# --- the export record -----------------------------------------------------------------------

def export_records(text="Rebels said 12 civilians died in Homs.", annotators=("amira", "bruno")):
    """Return export records (docs/design.md section 7) of one document annotated by two people."""
    sha = importing.text_sha256(text)
    records = []
    for n, annotator in enumerate(annotators):
        claim, actor = f"span-claim-{n}", f"span-actor-{n}"
        records.append({
            "schema_version": "conflict-annotator/1", "project": "pilot", "document_id": 12, "id": "E1",
            "text": text, "text_sha256": sha, "lang": "en", "meta": {"source": "wire"},
            "offsets": {"unit": "codepoint", "end": "exclusive"}, "tokens": [[0, 6]],
            "annotator": annotator, "status": "submitted", "updated_at": "2026-11-27T10:00:00Z",
            "spans": [{"id": claim, "start": 12, "end": 29, "text": "12 civilians died", "label": "CASUALTY_CLAIM",
                       "token_start": 2, "token_end": 5, "utf16": [12, 29],
                       "attrs": {"outcome": "killed", "count_low": 12, "count_high": 12}},
                      {"id": actor, "start": 0, "end": 6, "text": "Rebels", "label": "ACTOR", "token_start": 0,
                       "token_end": 1, "utf16": [0, 6], "attrs": {}}],
            "relations": [{"id": f"rel-{n}", "head": claim, "tail": actor, "label": "claimed_by"}],
        })
    return records


def test_export_records_reimport_with_the_same_ids_per_annotator(app):
    amira, bruno = make_user("amira"), make_user("bruno")
    project = make_project(members=[amira, bruno])
    records = export_records()
    with app.app_context():
        report = importing.import_records(project, enumerate(records, 1))
        assert report.created == 1 and report.annotation_sets == 2 and report.duplicate_count == 0
        sets = db.session.scalars(select(AnnotationSet).order_by(AnnotationSet.user_id)).all()
        assert [s.user_id for s in sets] == [amira.id, bruno.id]
        for n, annotation_set in enumerate(sets):
            assert sorted(s.uuid for s in annotation_set.spans) == [f"span-actor-{n}", f"span-claim-{n}"]
            (relation,) = annotation_set.relations
            assert relation.uuid == f"rel-{n}" and relation.head.uuid == f"span-claim-{n}"
            claim = next(s for s in annotation_set.spans if s.label == "CASUALTY_CLAIM")
            assert claim.attrs == {"outcome": "killed", "count_low": 12, "count_high": 12}
        statuses = db.session.scalars(select(Assignment.status)).all()
        assert statuses == ["submitted", "submitted"]
        again = importing.import_records(project, enumerate(records, 1))
        assert again.created == 0 and again.duplicate_count == 2


def test_export_record_with_a_changed_text_is_refused(app):
    project = make_project(members=[make_user("amira"), make_user("bruno")])
    records = export_records()
    records[1]["text"] = records[1]["text"].replace("Homs", "Hama")
    with app.app_context():
        with pytest.raises(Invalid) as caught:
            importing.import_records(project, enumerate(records, 1))
        assert "text_sha256 does not match" in caught.value.errors["2"][0]


def test_export_record_of_a_non_member_is_refused(app):
    project = make_project(members=[make_user("amira")])
    with app.app_context():
        with pytest.raises(Invalid) as caught:
            importing.import_records(project, enumerate(export_records(), 1))
        assert "'bruno' is not a member" in caught.value.errors["2"][0]


def test_export_record_with_utf16_offsets_is_refused(app):
    project = make_project(members=[make_user("amira")])
    record = export_records(annotators=("amira",))[0]
    record["offsets"] = {"unit": "utf16", "end": "exclusive"}
    with app.app_context():
        with pytest.raises(Invalid) as caught:
            importing.import_records(project, [(1, record)])
        assert "offsets must be" in caught.value.errors["1"][0]


def test_tokenize_many_matches_tokenize():
    texts = [record["text"] for record in corpus_records()] + ["", "   ", "a\n\nb", "قال المتحدث"]
    assert tokenize_many(texts, "en") == [tokenize(t, "en") for t in texts]


# --- worker processes (past pool_threshold records) -------------------------------------------

def many_records(count: int) -> list[dict]:
    """Return ``count`` distinct records: the sample corpus with numbered texts, Arabic ones, repeats."""
    corpus = corpus_records()
    records = []
    for n in range(count):
        if n % 10 == 9:  # a repeat of the record before: a duplicate
            records.append(dict(records[-1]))
        elif n % 10 == 8:
            records.append({"text": f"قال المتحدث إن {n} شخصا قتلوا.", "meta": {"lang": "ar"}})
        else:
            record = dict(corpus[n % len(corpus)])
            record.update(id=f"{record['id']}-{n}", text=f"{record['text']} [{n}]")
            records.append(record)
    return records


def stored_documents(project) -> list[tuple]:
    """Return everything stored for the project's documents, in import order, without generated ids."""
    result = []
    for document in db.session.scalars(select(Document).where(Document.project_id == project.id)
                                       .order_by(Document.id)):
        sets = db.session.scalars(select(AnnotationSet).where(AnnotationSet.document_id == document.id)).all()
        spans = sorted((s.start, s.end, s.label, json.dumps(s.attrs, sort_keys=True))
                       for annotation_set in sets for s in annotation_set.spans)
        relations = sorted(((r.head.start, r.head.end), (r.tail.start, r.tail.end), r.label)
                           for annotation_set in sets for r in annotation_set.relations)
        statuses = db.session.scalars(select(Assignment.status).where(Assignment.document_id == document.id)).all()
        result.append((document.external_id, document.text, document.text_sha256, document.meta, document.lang,
                       document.tokens, spans, relations, statuses))
    return result


def test_import_in_worker_processes_stores_what_one_process_stores(app):
    amira = make_user("amira")
    alone, pooled = make_project(members=[amira]), make_project(members=[amira])
    records = many_records(60)
    with app.app_context():
        user = db.session.get(User, amira.id)
        one = importing.import_records(alone, enumerate(records, 1), as_user=user, batch_size=8,
                                       pool_threshold=10**9)
        workers = importing.import_records(pooled, enumerate(records, 1), as_user=user, batch_size=8,
                                           pool_threshold=8)
        assert (workers.created, workers.duplicate_count, workers.annotation_sets) == \
            (one.created, one.duplicate_count, one.annotation_sets) == (54, 6, 54)
        assert workers.duplicates == [{**d, "document_id": d["document_id"] + one.created} for d in one.duplicates]
        assert stored_documents(pooled) == stored_documents(alone)
        assert stored_documents(pooled)[8][5] == tokenize(records[8]["text"], "ar")
        # Span ids the workers generated are unique (a forked worker must not reuse its parent's).
        uuids = db.session.scalars(select(Span.uuid)).all()
        assert len(uuids) == 2 * sum(len(r.get("spans", [])) for r in records) and len(set(uuids)) == len(uuids)


def test_an_invalid_record_checked_in_a_worker_stores_nothing(app, project):
    records = many_records(40)
    records[33]["spans"] = [{**records[33]["spans"][0], "text": "not the text"}]
    records[36] = {"text": "Unlabelled.", "spans": [{"start": 0, "end": 4, "label": "NOPE"}]}
    with app.app_context():
        user = importing.find_import_user(project, "amira")
        with pytest.raises(Invalid) as caught:
            importing.import_records(project, enumerate(records, 1), as_user=user, batch_size=8, pool_threshold=8)
        assert set(caught.value.errors) == {"34", "37"}
        assert "Does not match the document text" in caught.value.errors["34"][0]
        assert "unknown label 'NOPE'" in caught.value.errors["37"][0]
        assert count(Document) == 0 and count(Span) == 0 and count(AnnotationSet) == 0 and count(Event) == 0
        report = importing.import_records(project, enumerate(records, 1), as_user=user, batch_size=8,
                                          pool_threshold=8, skip_invalid=True)
        assert report.error_count == 2 and report.created == 34 and report.records == 40
        assert [e["line"] for e in report.as_dict()["errors"]] == [34, 37]


def test_api_import_past_the_threshold_uses_workers_and_stays_atomic(app, client):
    admin = make_user("root", role="admin")
    project = make_project(members=[make_user("amira")])
    url = f"/api/v1/projects/{project.id}/documents"
    records = [{"id": f"n{n}", "text": f"Article number {n}: shelling near Taiz."}
               for n in range(importing.POOL_THRESHOLD + 600)]
    bad = dict(records[-5], spans=[{"start": 0, "end": 7, "label": "ACTOR", "text": "Article"}])
    response = client.post(url, headers=token_for(admin), json={"documents": records[:-5] + [bad] + records[-4:]})
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == [str(len(records) - 4)]
    with app.app_context():
        assert count(Document) == 0
    response = client.post(url, headers=token_for(admin), json={"documents": records})
    assert response.status_code == 201 and response.get_json()["created"] == len(records)
    with app.app_context():
        stored = db.session.scalars(select(Document.text).order_by(Document.id)).all()
        assert stored == [r["text"] for r in records]
