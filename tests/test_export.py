"""The export: exact offsets, every format agreeing, filters, splits, streaming and bad input.

The gold corpus is imported as one annotator's submitted work; what comes out must be exactly
what went in, in JSONL, CoNLL and spaCy alike.
"""

import hashlib
import io
import json
import zipfile
from datetime import UTC
from datetime import datetime

import pytest
from spacy.tokens import DocBin
from spacy.training import biluo_tags_to_spans
from spacy.training import iob_to_biluo
from spacy.util import filter_spans
from spacy.vocab import Vocab
from sqlalchemy import select
from sqlalchemy import update

from annotator.extensions import db
from annotator.models import AnnotationSet
from annotator.models import Assignment
from annotator.models import Document
from annotator.models import Relation
from annotator.models import Span
from annotator.models import User
from annotator.services import exporting
from annotator.services import importing
from tests.factories import corpus_records
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user
from tests.factories import token_for

# Every character that ends a line for some reader, and an astral emoji (two UTF-16 units).
TRICKY = ('He said "stop" \\ then left.\nLine two\u2028sep\u2029para\x85nel\x0bvt\x0cff\x1cfs '
          "\U0001f4a9 Ansar al-Sharia \U0001f468\U0001f3fb\u200d\U0001f692 fired 3 rockets at Benghazi "
          "\U0001f1f1\U0001f1fe.")


def utf16(text: str, offset: int) -> int:
    """Return the UTF-16 offset JavaScript uses for a code-point offset."""
    return len(text[:offset].encode("utf-16-le")) // 2


def submit_all(app):
    with app.app_context():
        db.session.execute(update(Assignment).values(status="submitted"))
        db.session.commit()


@pytest.fixture
def gold(app):
    """The sample corpus as amira's submitted work; returns (project, admin headers, records)."""
    admin = make_user("root", role="admin")
    amira = make_user("amira")
    project = make_project("Pilot export", members=[amira])
    records = corpus_records()
    make_documents(project, records, as_user=amira)
    submit_all(app)
    return project, token_for(admin), records


def export(client, project_id, headers, **params):
    return client.get(f"/api/v1/projects/{project_id}/export", query_string=params, headers=headers)


def jsonl(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    body = response.get_data(as_text=True)
    return [json.loads(line) for line in body.split("\n") if line]


def span_key(span: dict) -> tuple:
    return span["start"], span["end"], span["label"], json.dumps(span.get("attrs") or {}, sort_keys=True)


def add_work(app, document_id: int, user: User, spans: list[tuple[int, int, str]], status="submitted"):
    """Give ``user`` an assignment and a manual set with ``spans`` on a document."""
    with app.app_context():
        db.session.add(Assignment(document_id=document_id, user_id=user.id, status=status))
        work = AnnotationSet(document_id=document_id, user_id=user.id, kind="manual", version=1)
        db.session.add(work)
        db.session.flush()
        for n, (start, end, label) in enumerate(spans):
            db.session.add(Span(set_id=work.id, uuid=f"{user.username}-{n}", start=start, end=end, label=label,
                                attrs={}))
        db.session.commit()


# --- JSONL: exactly the gold data ---------------------------------------------------------------


def test_admin_exports_exactly_the_gold_spans_and_relations(client, gold):
    project, headers, gold_records = gold
    exported = jsonl(export(client, project.id, headers))
    assert [r["id"] for r in exported] == [g["id"] for g in gold_records]
    for record, gold_record in zip(exported, gold_records, strict=True):
        assert record["text"] == gold_record["text"]
        assert record["meta"] == gold_record["meta"]
        assert record["annotator"] == "amira" and record["status"] == "submitted"
        assert record["schema_version"] == "conflict-annotator/1" and record["project"] == "Pilot export"
        assert record["offsets"] == {"unit": "codepoint", "end": "exclusive"}
        assert record["text_sha256"] == hashlib.sha256(record["text"].encode()).hexdigest()
        assert sorted(map(span_key, record["spans"])) == sorted(map(span_key, gold_record["spans"]))
        gold_spans = [span_key(s) for s in gold_record["spans"]]
        by_id = {s["id"]: span_key(s) for s in record["spans"]}
        gold_relations = sorted((gold_spans[r["head"]], gold_spans[r["tail"]], r["label"])
                                for r in gold_record["relations"])
        assert sorted((by_id[r["head"]], by_id[r["tail"]], r["label"]) for r in record["relations"]) \
            == gold_relations
        assert len({s["id"] for s in record["spans"]}) == len(record["spans"])
        assert len({r["id"] for r in record["relations"]}) == len(record["relations"])


def test_every_exported_span_matches_its_text_tokens_and_utf16_offsets(client, gold):
    project, headers, _ = gold
    for record in jsonl(export(client, project.id, headers)):
        text, tokens = record["text"], record["tokens"]
        assert tokens and all(0 <= s < e <= len(text) for s, e in tokens)
        for span in record["spans"]:
            assert text[span["start"]:span["end"]] == span["text"]
            assert span["utf16"] == [utf16(text, span["start"]), utf16(text, span["end"])]
            covered = [i for i, (s, e) in enumerate(tokens) if s < span["end"] and span["start"] < e]
            assert (span["token_start"], span["token_end"]) == (covered[0], covered[-1] + 1)


def test_utf16_offsets_count_astral_characters_twice(app, client):
    admin = make_user("root", role="admin")
    amira = make_user("amira")
    project = make_project(members=[amira])
    start = TRICKY.index("Benghazi")
    make_documents(project, [{"text": TRICKY, "spans": [
        {"start": start, "end": start + 8, "label": "LOCATION"},
        {"start": TRICKY.index("\U0001f4a9"), "end": TRICKY.index("\U0001f4a9") + 1, "label": "WEAPON"}]}],
        as_user=amira)
    submit_all(app)
    (record,) = jsonl(export(client, project.id, token_for(admin)))
    benghazi = next(s for s in record["spans"] if s["label"] == "LOCATION")
    # Three astral characters before it in the text, the firefighter emoji two more (ZWJ sequence).
    assert benghazi["utf16"] == [utf16(TRICKY, start), utf16(TRICKY, start + 8)]
    assert benghazi["utf16"][0] == start + 4  # four astral characters come before it
    assert TRICKY.encode("utf-16-le")[2 * benghazi["utf16"][0]:2 * benghazi["utf16"][1]].decode(
        "utf-16-le") == "Benghazi"


def test_line_separators_in_text_never_split_a_record(app, client):
    admin = make_user("root", role="admin")
    amira, bruno = make_user("amira"), make_user("bruno")
    project = make_project(members=[amira, bruno])
    (document_id,) = make_documents(project, [TRICKY])
    add_work(app, document_id, amira, [(TRICKY.index("Benghazi"), TRICKY.index("Benghazi") + 8, "LOCATION")])
    add_work(app, document_id, bruno, [])
    response = export(client, project.id, token_for(admin))
    body = response.get_data(as_text=True)
    assert body.endswith("\n")
    for lines in (body.split("\n")[:-1], body.splitlines()):
        assert len(lines) == 2
        records = [json.loads(line) for line in lines]
        assert [r["text"] for r in records] == [TRICKY, TRICKY]
        assert [r["annotator"] for r in records] == ["amira", "bruno"]
    for raw in ("\u2028", "\u2029", "\x85", "\r"):
        assert raw not in body
    assert "\U0001f4a9" in body  # ensure_ascii=False: the rest stays readable UTF-8
    assert records[1]["spans"] == [] and records[1]["relations"] == []


def test_golden_record_pins_the_contract(app, client):
    """Is the JSONL record, byte for byte, the one docs/design.md section 7 describes?"""
    admin = make_user("root", role="admin")
    amira = make_user("amira")
    project = make_project("pilot", members=[amira])
    text = "\U0001f4a9 Shelling killed 3 people in Homs."
    # Keys in PostgreSQL's JSONB order (shorter first), which SQLite keeps as given.
    make_documents(project, [{"id": "A01", "text": text, "meta": {"date": "2024-02-11", "source": "wire"},
                              "spans": [
                                  {"id": "s1", "start": 11, "end": 26, "label": "CASUALTY_CLAIM",
                                   "attrs": {"outcome": "killed", "count_text": "3"}},
                                  {"id": "s2", "start": 30, "end": 34, "label": "LOCATION", "attrs": {}}],
                              "relations": [{"id": "r1", "head": "s1", "tail": "s2", "label": "place"}]}],
                   as_user=amira)
    moment = datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)
    with app.app_context():
        db.session.execute(update(Assignment).values(status="submitted", updated_at=moment))
        db.session.execute(update(AnnotationSet).values(updated_at=moment))
        db.session.commit()
        document_id = db.session.scalar(select(Document.id))
    body = export(client, project.id, token_for(admin)).get_data(as_text=True)
    assert body == (
        '{"schema_version": "conflict-annotator/1", "project": "pilot", "document_id": @DOC@, "id": "A01", '
        '"text": "\U0001f4a9 Shelling killed 3 people in Homs.", "text_sha256": "@SHA@", "lang": "en", '
        '"meta": {"date": "2024-02-11", "source": "wire"}, "offsets": {"unit": "codepoint", "end": "exclusive"}, '
        '"tokens": [[0, 1], [2, 10], [11, 17], [18, 19], [20, 26], [27, 29], [30, 34], [34, 35]], '
        '"annotator": "amira", "status": "submitted", "updated_at": "2026-11-27T10:00:00Z", '
        '"spans": [{"id": "s1", "start": 11, "end": 26, "text": "killed 3 people", "label": "CASUALTY_CLAIM", '
        '"token_start": 2, "token_end": 5, "utf16": [12, 27], "attrs": {"outcome": "killed", "count_text": "3"}}, '
        '{"id": "s2", "start": 30, "end": 34, "text": "Homs", "label": "LOCATION", "token_start": 6, '
        '"token_end": 7, "utf16": [31, 35], "attrs": {}}], '
        '"relations": [{"id": "r1", "head": "s1", "tail": "s2", "label": "place", "attrs": {}}]}\n'
    ).replace("@DOC@", str(document_id)).replace("@SHA@", hashlib.sha256(text.encode()).hexdigest())


def test_jsonl_lines_and_iter_records_give_the_same_records(app, client, gold):
    project, headers, _ = gold
    bruno = make_user("bruno")
    (tricky,) = make_documents(project, [TRICKY])
    add_work(app, tricky, bruno, [(TRICKY.index("Benghazi"), TRICKY.index("Benghazi") + 8, "LOCATION")])
    lines = jsonl(export(client, project.id, headers, split="70,20,10"))
    with app.app_context():
        records = list(exporting.iter_records(project, split=(70, 20, 10)))
    assert lines == records and len(records) == 9
    # Newlines, U+2028, vertical tabs and emoji between tokens: CoNLL and spaCy still agree.
    by_key = {(r["document_id"], r["annotator"]): r for r in records}
    archive = zipfile.ZipFile(io.BytesIO(export(client, project.id, headers, format="conll",
                                                split="70,20,10").get_data()))
    for name in archive.namelist():
        columns, blocks = parse_conll(archive.read(name).decode("utf-8"))
        for comments, rows in blocks:
            record = by_key[(int(comments["document_id"]), comments["annotator"])]
            assert conll_spans(columns, rows) == token_spans(record)
    shards = spacy_docs(export(client, project.id, headers, format="spacy").get_data())
    docs = [doc for shard in shards.values() for doc in shard]
    assert [d.text for d in docs] == [r["text"] for r in jsonl(export(client, project.id, headers))]


def test_two_exports_of_the_same_data_are_identical(client, gold):
    project, headers, _ = gold
    first = export(client, project.id, headers).get_data()
    assert first == export(client, project.id, headers).get_data()
    for fmt in ("conll", "spacy"):
        assert export(client, project.id, headers, format=fmt).get_data() == \
            export(client, project.id, headers, format=fmt).get_data()


def test_export_is_streamed_as_an_attachment(client, gold):
    project, headers, _ = gold
    response = export(client, project.id, headers)
    assert response.is_streamed
    assert response.mimetype == "application/x-ndjson"
    assert response.headers["Content-Disposition"] == 'attachment; filename="pilot-export.jsonl"'
    assert len(response.get_data().splitlines()) == 8  # read to the end: the cursor closes
    conll = export(client, project.id, headers, format="conll")
    conll.close()
    assert conll.mimetype == "text/plain"
    assert conll.headers["Content-Disposition"] == 'attachment; filename="pilot-export.conll"'
    spacy_zip = export(client, project.id, headers, format="spacy")
    assert spacy_zip.mimetype == "application/zip"
    assert spacy_zip.headers["Content-Disposition"] == 'attachment; filename="pilot-export-spacy.zip"'
    spacy_zip.close()


# --- CoNLL and spaCy agree with the JSONL -------------------------------------------------------


def parse_conll(text: str):
    """Return the column names and (comments, rows) per block of a CoNLL export."""
    lines = text.split("\n")
    assert lines[0] == "# conflict-annotator/1 conll"
    assert lines[1].startswith("# global.columns = ")
    columns = lines[1].split(" = ", 1)[1].split(" ")
    blocks, comments, rows = [], {}, []
    for line in lines[2:]:
        if not line:
            if rows:
                blocks.append((comments, rows))
            comments, rows = {}, []
        elif line.startswith("# ") and "\t" not in line and not rows:
            key, _, value = line[2:].partition(" = ")
            comments[key] = value
        else:
            rows.append(line.split("\t"))
            assert len(rows[-1]) == len(columns)
    return columns, blocks


def token_spans(record: dict) -> set[tuple[str, int, int]]:
    return {(s["label"], s["token_start"], s["token_end"]) for s in record["spans"]}


def conll_spans(columns, rows) -> set[tuple[str, int, int]]:
    """Read the spans of one block back with spaCy's own IOB helpers."""
    doc_words = [row[0] for row in rows]
    found = set()
    for j, column in enumerate(columns[1:], 1):
        from spacy.tokens import Doc

        doc = Doc(Vocab(), words=doc_words)
        for span in biluo_tags_to_spans(doc, iob_to_biluo([row[j] for row in rows])):
            assert span.label_ == column.split(".")[0]
            found.add((span.label_, span.start, span.end))
    return found


def test_conll_loads_with_spacy_and_agrees_with_the_jsonl(client, gold):
    project, headers, _ = gold
    records = jsonl(export(client, project.id, headers))
    response = export(client, project.id, headers, format="conll")
    columns, blocks = parse_conll(response.get_data(as_text=True))
    assert columns[:2] == ["TOKEN", "ACTOR"]
    # "western Mosul"-style nesting of one label needs a second LOCATION column.
    assert "LOCATION.2" in columns
    assert len(blocks) == len(records)
    for (comments, rows), record in zip(blocks, records, strict=True):
        assert comments["document_id"] == str(record["document_id"]) and comments["id"] == record["id"]
        assert comments["annotator"] == "amira" and comments["text_sha256"] == record["text_sha256"]
        assert [row[0] for row in rows] == [record["text"][s:e] for s, e in record["tokens"]]
        assert conll_spans(columns, rows) == token_spans(record)


def spacy_docs(data: bytes) -> dict[str, list]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    vocab = Vocab()
    docs = {}
    for name in sorted(archive.namelist()):
        assert name.endswith(".spacy")
        docs[name] = list(DocBin().from_bytes(archive.read(name)).get_docs(vocab))
    return docs


def test_spacy_docbin_loads_and_agrees_with_the_jsonl(client, gold):
    project, headers, _ = gold
    records = jsonl(export(client, project.id, headers))
    shards = spacy_docs(export(client, project.id, headers, format="spacy").get_data())
    assert list(shards) == ["corpus/000000.spacy"]
    docs = shards["corpus/000000.spacy"]
    assert len(docs) == len(records)
    for doc, record in zip(docs, records, strict=True):
        assert doc.text == record["text"]
        assert [t.text for t in doc if not t.text.isspace()] == [record["text"][s:e] for s, e in record["tokens"]]
        spans = {(s.start_char, s.end_char, s.label_, s.id_) for s in doc.spans["sc"]}
        assert spans == {(s["start"], s["end"], s["label"], s["id"]) for s in record["spans"]}
        ents = list(doc.ents)
        assert [(e.start, e.end) for e in ents] == [(e.start, e.end) for e in filter_spans(doc.spans["sc"])]
        for span in doc.spans["sc"]:  # every span lies inside an entity: the ents are the outermost
            assert any(e.start_char <= span.start_char and span.end_char <= e.end_char for e in ents)
        data = doc.user_data["conflict_annotator"]
        assert data["document_id"] == record["document_id"] and data["annotator"] == "amira"
        assert data["attrs"] == {s["id"]: s["attrs"] for s in record["spans"]}
        assert list(data["relations"]) == record["relations"]  # msgpack reads lists back as tuples


# --- Splits -------------------------------------------------------------------------------------


def test_split_is_deterministic_and_keeps_each_document_together(app, client, gold):
    project, headers, _ = gold
    bruno = make_user("bruno")
    with app.app_context():
        ids = db.session.scalars(select(Document.id).order_by(Document.id)).all()
    for document_id in ids:
        add_work(app, document_id, bruno, [])
    records = jsonl(export(client, project.id, headers, split="50,25,25", seed=7))
    assert len(records) == 16
    by_document = {}
    for record in records:
        by_document.setdefault(record["document_id"], set()).add(record["split"])
        assert record["split"] == exporting.split_of(record["text_sha256"], (50, 25, 25), 7)
    assert all(len(splits) == 1 for splits in by_document.values())
    assert records == jsonl(export(client, project.id, headers, split="50,25,25", seed=7))
    assert {r["split"] for r in jsonl(export(client, project.id, headers, split="100,0,0"))} == {"train"}
    assert "split" not in jsonl(export(client, project.id, headers))[0]


def test_split_ratios_hold_over_many_documents():
    shas = [hashlib.sha256(str(n).encode()).hexdigest() for n in range(20_000)]
    counts = {"train": 0, "dev": 0, "test": 0}
    for sha in shas:
        counts[exporting.split_of(sha, (80, 10, 10), 0)] += 1
    assert 15_600 < counts["train"] < 16_400 and 1_800 < counts["dev"] < 2_200 and 1_800 < counts["test"] < 2_200


def test_conll_and_spacy_with_a_split_are_zips_per_split(client, gold):
    project, headers, _ = gold
    records = jsonl(export(client, project.id, headers, split="60,20,20", seed=3))
    expected = {name: [r for r in records if r["split"] == name] for name in ("train", "dev", "test")}
    response = export(client, project.id, headers, format="conll", split="60,20,20", seed=3)
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"] == 'attachment; filename="pilot-export-conll.zip"'
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    assert archive.namelist() == ["train.conll", "dev.conll", "test.conll"]
    for name, wanted in expected.items():
        columns, blocks = parse_conll(archive.read(f"{name}.conll").decode("utf-8"))
        assert [int(c["document_id"]) for c, _ in blocks] == [r["document_id"] for r in wanted]
        assert all(c["split"] == name for c, _ in blocks)
        for (_, rows), record in zip(blocks, wanted, strict=True):
            assert conll_spans(columns, rows) == token_spans(record)
    shards = spacy_docs(export(client, project.id, headers, format="spacy", split="60,20,20", seed=3).get_data())
    for name, wanted in expected.items():
        docs = shards.get(f"{name}/000000.spacy", [])
        assert [d.user_data["conflict_annotator"]["document_id"] for d in docs] == \
            [r["document_id"] for r in wanted]


# --- Filters ------------------------------------------------------------------------------------


def test_filters_select_status_annotator_document_and_time(app, client):
    admin = make_user("root", role="admin")
    amira, bruno = make_user("amira"), make_user("bruno")
    project = make_project(members=[amira, bruno])
    first, second = make_documents(project, ["First article about Homs.", "Second article about Idlib."])
    add_work(app, first, amira, [(21, 25, "LOCATION")])
    add_work(app, first, bruno, [(21, 25, "LOCATION")], status="in_progress")
    add_work(app, second, bruno, [(21, 26, "LOCATION")])
    old = datetime(2020, 1, 1, tzinfo=UTC)
    with app.app_context():
        db.session.execute(update(Assignment).where(Assignment.document_id == first).values(updated_at=old))
        db.session.execute(update(AnnotationSet).where(AnnotationSet.document_id == first).values(updated_at=old))
        db.session.commit()
    headers = token_for(admin)

    def keys(**params):
        return [(r["document_id"], r["annotator"]) for r in jsonl(export(client, project.id, headers, **params))]

    assert keys() == [(first, "amira"), (second, "bruno")]
    assert keys(status="in_progress") == [(first, "bruno")]
    assert keys(status="submitted,in_progress") == [(first, "amira"), (first, "bruno"), (second, "bruno")]
    assert keys(annotator="bruno") == [(second, "bruno")]
    assert keys(document=first, status=["submitted", "in_progress"]) == [(first, "amira"), (first, "bruno")]
    assert keys(updated_since="2024-01-01T00:00:00Z") == [(second, "bruno")]
    assert keys(updated_since="2019-12-31T23:00:00") == [(first, "amira"), (second, "bruno")]
    summary = client.get(f"/api/v1/projects/{project.id}/export/summary",
                         query_string={"status": "submitted,in_progress"}, headers=headers).json
    assert summary == {"records": 3, "documents": 2, "spans": 3, "relations": 0}


@pytest.mark.parametrize("params, field", [
    ({"format": "xml"}, "format"),
    ({"status": "finished"}, "status"),
    ({"annotator": "nobody"}, "annotator"),
    ({"document": "999999"}, "document"),
    ({"document": "abc"}, "document"),
    ({"updated_since": "yesterday"}, "updated_since"),
    ({"split": "80,10,5"}, "split"),
    ({"split": "80,20"}, "split"),
    ({"seed": "x"}, "seed"),
    ({"colour": "red"}, "colour"),
])
def test_unknown_format_or_filter_value_is_422_naming_it(client, gold, params, field):
    project, headers, _ = gold
    for path in ("export", "export/summary"):
        if path.endswith("summary") and field == "format":
            continue
        response = client.get(f"/api/v1/projects/{project.id}/{path}", query_string=params, headers=headers)
        assert response.status_code == 422, response.get_data(as_text=True)[:300]
        assert response.json["code"] == 422 and field in response.json["errors"]


def test_another_project_is_404(client, gold):
    _, headers, _ = gold
    response = export(client, 999_999, headers)
    assert response.status_code == 404 and response.json["code"] == 404


@pytest.mark.parametrize("role", ["annotator", "reviewer"])
def test_non_admin_cannot_export(client, gold, role):
    project, _, _ = gold
    response = export(client, project.id, token_for(make_user(f"someone-{role}", role=role)))
    assert response.status_code == 403
    assert client.get(f"/api/v1/projects/{project.id}/export/summary",
                      headers=token_for(make_user(f"other-{role}", role=role))).status_code == 403


def test_empty_project_exports_valid_empty_files(client):
    admin = make_user("root", role="admin")
    project = make_project("Nothing yet")
    headers = token_for(admin)
    response = export(client, project.id, headers)
    assert response.status_code == 200 and response.get_data() == b""
    columns, blocks = parse_conll(export(client, project.id, headers, format="conll").get_data(as_text=True))
    assert columns == ["TOKEN", "ACTOR", "WEAPON", "LOCATION", "CASUALTY_CLAIM"] and blocks == []
    assert zipfile.ZipFile(io.BytesIO(export(client, project.id, headers, format="spacy").get_data())).namelist() == []
    split = export(client, project.id, headers, format="conll", split="80,10,10").get_data()
    assert zipfile.ZipFile(io.BytesIO(split)).namelist() == ["train.conll", "dev.conll", "test.conll"]


def test_admin_downloads_with_the_session_cookie_and_no_csrf_token(client, login, gold):
    project, _, _ = gold
    assert login("root").status_code == 302
    response = client.get(f"/api/v1/projects/{project.id}/export?format=jsonl")
    assert response.status_code == 200 and len(jsonl(response)) == 8


# --- Round trip ---------------------------------------------------------------------------------


def test_jsonl_export_reimported_into_a_new_project_exports_the_same(app, client, gold):
    project, headers, _ = gold
    first = jsonl(export(client, project.id, headers))
    amira = make_user("amira2")
    copy = make_project("Pilot copy", members=[amira])
    with app.app_context():
        importing.import_records(copy, list(enumerate(first, 1)), as_user=amira)
    submit_all(app)
    second = jsonl(export(client, copy.id, headers))
    assert len(second) == len(first)
    for a, b in zip(first, second, strict=True):
        for key in ("id", "text", "text_sha256", "lang", "meta", "tokens", "spans", "relations"):
            assert a[key] == b[key], key


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_export_writes_the_same_file_as_the_api(client, runner, gold, tmp_path):
    project, headers, _ = gold
    target = tmp_path / "pilot.jsonl"
    result = runner.invoke(args=["export", "Pilot export", "-o", str(target), "--split", "80,10,10", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "Exported 8 records of 'Pilot export' as jsonl" in result.output
    assert target.read_bytes() == export(client, project.id, headers, split="80,10,10", seed=5).get_data()
    spacy_target = tmp_path / "pilot.zip"
    result = runner.invoke(args=["export", str(project.id), "-o", str(spacy_target), "--format", "spacy",
                                 "--status", "submitted", "--annotator", "amira"])
    assert result.exit_code == 0, result.output
    assert spacy_target.read_bytes() == export(client, project.id, headers, format="spacy").get_data()
    assert not list(tmp_path.glob("*.part"))


def test_cli_export_refuses_bad_filters_and_writes_nothing(runner, gold, tmp_path):
    target = tmp_path / "out.jsonl"
    result = runner.invoke(args=["export", "Pilot export", "-o", str(target), "--status", "done"])
    assert result.exit_code == 1 and "status" in result.output
    result = runner.invoke(args=["export", "Pilot export", "-o", str(target), "--split", "90,10,10"])
    assert result.exit_code == 1 and "split" in result.output
    result = runner.invoke(args=["export", "No such project", "-o", str(target)])
    assert result.exit_code == 1
    assert not target.exists()


# --- The service directly -----------------------------------------------------------------------


def test_iter_records_reads_in_batches_and_checks_filters_first(ctx, gold):
    project, _, _ = gold
    records = list(exporting.iter_records(project, batch_size=3))
    assert [r["document_id"] for r in records] == sorted(r["document_id"] for r in records)
    assert len(records) == 8
    with pytest.raises(exporting.Invalid) as error:
        next(exporting.iter_records(project, status=("nope",)))
    assert "status" in error.value.errors


def test_nested_spans_of_one_label_get_their_own_conll_column(ctx):
    assert exporting.plan_layers([(0, 20), (8, 20), (10, 14), (30, 35)]) == [0, 1, 2, 0]
    assert exporting.plan_layers([(0, 10), (5, 15), (10, 20)]) == [0, 1, 0]


def test_deleting_spans_in_the_database_cascades_out_of_the_export(app, client, gold):
    project, headers, _ = gold
    with app.app_context():
        db.session.execute(Relation.__table__.delete())
        db.session.commit()
    assert all(r["relations"] == [] for r in jsonl(export(client, project.id, headers)))


# --- The page -----------------------------------------------------------------------------------


def test_admin_sees_the_export_page_with_the_count_and_a_form_to_the_api(client, login, gold):
    project, _, _ = gold
    login("root")
    home = client.get("/").get_data(as_text=True)
    assert 'href="/admin/export"' in home
    index = client.get("/admin/export").get_data(as_text=True)
    assert f'href="/admin/projects/{project.id}/export"' in index
    page = client.get(f"/admin/projects/{project.id}/export")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'action="/api/v1/projects/{project.id}/export"' in html and 'method="get"' in html
    assert 'data-records="8"' in html and '<option value="amira">amira</option>' in html
    assert "<script>" not in html and " style=" not in html


@pytest.mark.parametrize("role", ["annotator", "reviewer"])
def test_non_admin_cannot_open_the_export_page(client, login, gold, role):
    project, _, _ = gold
    make_user(f"x-{role}", role=role)
    login(f"x-{role}")
    assert 'href="/admin/export"' not in client.get("/").get_data(as_text=True)
    assert client.get(f"/admin/projects/{project.id}/export").status_code == 403
    assert client.get("/admin/export").status_code == 403


def test_export_page_of_a_missing_project_is_404(client, login, gold):
    login("root")
    assert client.get("/admin/projects/999999/export").status_code == 404
