"""The JSONL export byte for byte on a record built to trip it, on SQLite and PostgreSQL alike.

Spans and relations reach the export aggregated per set in SQL and are sorted and formatted in
Python; this pins every rule of that path: the order of spans (by start, longest first, then as
created) and relations (as created, not by id text), token positions for spans on and off token
boundaries, UTF-16 offsets after astral characters, line separators in the text and in attrs,
nested attrs spliced as stored, a null attrs, and records without a set. The expected line was
written by the export before spans were aggregated in SQL; both databases must give these bytes.
"""

import hashlib
import json
from datetime import UTC
from datetime import datetime

from sqlalchemy import select
from sqlalchemy import update

from annotator.extensions import db
from annotator.models import AnnotationSet
from annotator.models import Assignment
from annotator.models import Document
from annotator.models import Relation
from annotator.models import Span
from annotator.services import exporting
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user
from tests.factories import token_for

TEXT = ("\U0001f4a9 Ansar al-Sharia fired\u2028rockets at western Mosul\x85 today \U0001f1f1\U0001f1fe. "
        'He said "stop" \\ then left.')
MOMENT = datetime(2026, 11, 27, 10, 0, 0, 654321, tzinfo=UTC)
# Keys in PostgreSQL's JSONB order (shorter first), which SQLite keeps as given; ASCII only, as
# SQLite stores attrs with \\u escapes and PostgreSQL without.
NESTED = {"geo": {"lat": 36, "lon": 43.5}, "note": 'a "q" \\ b\u2028c\td', "tags": ["x", {"deep": [1, None, True]}]}


def at(fragment: str, occurrence: int = 0) -> int:
    return TEXT.index(fragment) if not occurrence else TEXT.index(fragment, TEXT.index(fragment) + 1)


def build(app):
    """Create the tricky record (amira), a submitted record without a set (bruno) and one not submitted."""
    admin = make_user("root", role="admin")
    amira, bruno, carla = make_user("amira"), make_user("bruno"), make_user("carla")
    project = make_project("Tricky \u2028 export", members=[amira, bruno, carla])
    (document_id,) = make_documents(project, [{"id": "T\u20281", "text": TEXT, "meta": {"n": 1, "src": "x"}}])
    western, mosul = at("western"), at("Mosul")
    with app.app_context():
        work = AnnotationSet(document_id=document_id, user_id=amira.id, kind="manual", version=3)
        db.session.add_all([work, Assignment(document_id=document_id, user_id=amira.id, status="submitted"),
                            Assignment(document_id=document_id, user_id=bruno.id, status="submitted"),
                            Assignment(document_id=document_id, user_id=carla.id, status="assigned"),
                            AnnotationSet(document_id=document_id, user_id=carla.id, kind="manual", version=1)])
        db.session.flush()
        # Created out of export order: the export sorts them.
        rows = [("s-mosul", mosul, mosul + 5, "LOCATION", {"ace_type": "GPE"}),
                ("s-western", western, western + 7, "ACTOR", {}),
                ("s-western-mosul", western, mosul + 5, "LOCATION", NESTED),
                ("s-off-tokens", at("Sharia") + 2, at("fired") + 3, "ACTOR", None),
                ("s-emoji", 0, 1, "WEAPON", {"weapon_class": "other"}),
                ("s-quote", at('"stop"'), at('"stop"') + 6, "CASUALTY_CLAIM", {"count_text": "\\"})]
        spans = {}
        for uuid, start, end, label, attrs in rows:
            spans[uuid] = Span(set_id=work.id, uuid=uuid, start=start, end=end, label=label, attrs=attrs)
            db.session.add(spans[uuid])
            db.session.flush()
        for uuid, head, tail, label in [("r-b", "s-western-mosul", "s-off-tokens", "place"),
                                        ("r-a", "s-emoji", "s-mosul", "instrument"),
                                        ("r-c", "s-quote", "s-western", "perpetrator")]:
            db.session.add(Relation(set_id=work.id, uuid=uuid, head_id=spans[head].id, tail_id=spans[tail].id,
                                    label=label, attrs={"why": "x\u2028y"} if uuid == "r-c" else {}))
            db.session.flush()
        db.session.execute(update(Assignment).values(updated_at=MOMENT))
        db.session.execute(update(AnnotationSet).values(updated_at=MOMENT))
        db.session.commit()
        sha = db.session.scalar(select(Document.text_sha256))
    return project, token_for(admin), document_id, sha


def expected_lines(document_id: int, sha: str) -> str:
    return EXPECTED.replace("@DOC@", str(document_id)).replace("@SHA@", sha)


# The flag 🇱🇾 is one token [56, 58]: its two regional indicators are one grapheme cluster.
EXPECTED = (
    '{"schema_version": "conflict-annotator/1", "project": "Tricky \\u2028 export", '
    '"document_id": @DOC@, "id": "T\\u20281", '
    '"text": "💩 Ansar al-Sharia fired\\u2028rockets at western Mosul\\u0085 today 🇱🇾. '
    'He said \\"stop\\" \\\\ then left.", '
    '"text_sha256": "@SHA@", "lang": "en", "meta": {"n": 1, "src": "x"}, '
    '"offsets": {"unit": "codepoint", "end": "exclusive"}, "tokens": [[0, 1], [2, 7], [8, 10], [10, '
    '11], [11, 17], [18, 23], [24, 31], [32, 34], [35, 42], [43, 48], [50, 55], [56, 58], '
    '[58, 59], [60, 62], [63, 67], [68, 69], [69, 73], [73, 74], [75, 76], [77, 81], [82, 86], [86, '
    '87]], "annotator": "amira", "status": "submitted", "updated_at": "2026-11-27T10:00:00Z", '
    '"spans": [{"id": "s-emoji", "start": 0, "end": 1, "text": "💩", "label": "WEAPON", '
    '"token_start": 0, "token_end": 1, "utf16": [0, 2], "attrs": {"weapon_class": "other"}}, '
    '{"id": "s-off-tokens", "start": 13, "end": 21, "text": "aria fir", "label": "ACTOR", '
    '"token_start": 4, "token_end": 6, "utf16": [14, 22], "attrs": {}}, {"id": "s-western-mosul", '
    '"start": 35, "end": 48, "text": "western Mosul", "label": "LOCATION", "token_start": 8, '
    '"token_end": 10, "utf16": [36, 49], "attrs": {"geo": {"lat": 36, "lon": 43.5}, '
    '"note": "a \\"q\\" \\\\ b\\u2028c\\td", "tags": ["x", {"deep": [1, null, true]}]}}, '
    '{"id": "s-western", "start": 35, "end": 42, "text": "western", "label": "ACTOR", '
    '"token_start": 8, "token_end": 9, "utf16": [36, 43], "attrs": {}}, {"id": "s-mosul", "start": 43, '
    '"end": 48, "text": "Mosul", "label": "LOCATION", "token_start": 9, "token_end": 10, "utf16": [44, '
    '49], "attrs": {"ace_type": "GPE"}}, {"id": "s-quote", "start": 68, "end": 74, '
    '"text": "\\"stop\\"", "label": "CASUALTY_CLAIM", "token_start": 15, "token_end": 18, '
    '"utf16": [71, 77], "attrs": {"count_text": "\\\\"}}], "relations": [{"id": "r-b", '
    '"head": "s-western-mosul", "tail": "s-off-tokens", "label": "place", "attrs": {}}, {"id": "r-a", '
    '"head": "s-emoji", "tail": "s-mosul", "label": "instrument", "attrs": {}}, {"id": "r-c", '
    '"head": "s-quote", "tail": "s-western", "label": "perpetrator", '
    '"attrs": {"why": "x\\u2028y"}}]}\n{"schema_version": "conflict-annotator/1", '
    '"project": "Tricky \\u2028 export", "document_id": @DOC@, "id": "T\\u20281", '
    '"text": "💩 Ansar al-Sharia fired\\u2028rockets at western Mosul\\u0085 today 🇱🇾. '
    'He said \\"stop\\" \\\\ then left.", '
    '"text_sha256": "@SHA@", "lang": "en", "meta": {"n": 1, "src": "x"}, '
    '"offsets": {"unit": "codepoint", "end": "exclusive"}, "tokens": [[0, 1], [2, 7], [8, 10], [10, '
    '11], [11, 17], [18, 23], [24, 31], [32, 34], [35, 42], [43, 48], [50, 55], [56, 58], '
    '[58, 59], [60, 62], [63, 67], [68, 69], [69, 73], [73, 74], [75, 76], [77, 81], [82, 86], [86, '
    '87]], "annotator": "bruno", "status": "submitted", "updated_at": "2026-11-27T10:00:00Z", '
    '"spans": [], "relations": []}\n'
)


def test_jsonl_bytes_of_a_tricky_record_are_pinned(app, client):
    project, headers, document_id, sha = build(app)
    assert sha == hashlib.sha256(TEXT.encode()).hexdigest()
    body = client.get(f"/api/v1/projects/{project.id}/export", headers=headers).get_data(as_text=True)
    assert body == expected_lines(document_id, sha)


def test_dict_records_are_the_parsed_lines(app, client):
    project, headers, _, _ = build(app)
    lines = client.get(f"/api/v1/projects/{project.id}/export", headers=headers).get_data(as_text=True)
    with app.app_context():
        records = list(exporting.iter_records(project))
        split = list(exporting.iter_records(project, split=(50, 25, 25)))
    assert [json.loads(line) for line in lines.split("\n") if line] == records
    assert [{k: v for k, v in r.items() if k != "split"} for r in split] == records
    assert [r["annotator"] for r in records] == ["amira", "bruno"]
