"""The annotations API: spans, relations, versions, idempotency, status, and bad input."""

import pytest
from sqlalchemy import func
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import AnnotationSet
from annotator.models import Assignment
from annotator.models import Event
from annotator.models import Relation
from annotator.models import Span
from tests.factories import in_app
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user
from tests.factories import token_for

TEXT = ("Rocket fire on western Mosul left almost 100 people dead 👨🏻‍🚒, SANA said. "
        "Médecins (Me\u0301decins) reported حلب shelling.")


@in_app
def assign(document_id, user, status="assigned"):
    db.session.add(Assignment(document_id=document_id, user_id=user.id, status=status))
    db.session.commit()


def setup_doc(text=TEXT, status="assigned"):
    """Return (document id, amira's headers, bruno's headers); only amira is assigned."""
    amira, bruno = make_user("amira"), make_user("bruno")
    project = make_project(members=[amira, bruno])
    [did] = make_documents(project, [text])
    assign(did, amira, status)
    return did, token_for(amira), token_for(bruno)


def span_body(word, label="ACTOR", **extra):
    start = TEXT.index(word)
    return {"start": start, "end": start + len(word), "label": label, **extra}


def counts(app):
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Span)),
                db.session.scalar(select(func.count()).select_from(Relation)),
                db.session.scalar(select(func.coalesce(func.max(AnnotationSet.version), 0))))


def test_annotator_creates_reads_patches_and_deletes_a_span(app, client):
    did, amira, _ = setup_doc()
    created = client.post(f"/api/v1/documents/{did}/spans", headers=amira,
                          json=span_body("SANA", id="s-1", text="SANA"))
    assert created.status_code == 201, created.json
    assert created.json["id"] == "s-1" and created.json["version"] == 1
    assert created.json["text"] == "SANA" and created.headers["ETag"] == '"1"'
    got = client.get(f"/api/v1/documents/{did}/annotations", headers=amira).json
    assert got["annotator"] == "amira" and got["status"] == "in_progress" and got["version"] == 1
    assert got["spans"] == [{"id": "s-1", "start": TEXT.index("SANA"), "end": TEXT.index("SANA") + 4,
                             "label": "ACTOR", "attrs": {}, "text": "SANA"}]
    patched = client.patch(f"/api/v1/documents/{did}/spans/s-1", headers={**amira, "If-Match": '"1"'},
                           json={"attrs": {"mention": "NAM", "ace_type": "ORG"}})
    assert patched.status_code == 200 and patched.json["version"] == 2
    assert patched.json["attrs"] == {"mention": "NAM", "ace_type": "ORG"}
    deleted = client.delete(f"/api/v1/documents/{did}/spans/s-1", headers=amira)
    assert deleted.status_code == 200 and deleted.json["version"] == 3
    assert counts(app) == (0, 0, 3)
    with app.app_context():
        actions = db.session.scalars(select(Event.action).where(Event.document_id == did)
                                     .order_by(Event.id)).all()
        assignment = db.session.scalar(select(Assignment).where(Assignment.document_id == did))
        assert actions == ["span.create", "span.update", "span.delete"]
        assert assignment.status == "in_progress" and assignment.started_at is not None


def test_span_offsets_are_code_points_after_emoji_and_combining_marks(app, client):
    did, amira, _ = setup_doc()
    for word in ("SANA", "Me\u0301decins", "حلب", "👨🏻‍🚒"):
        response = client.post(f"/api/v1/documents/{did}/spans", headers=amira,
                               json=span_body(word, label="LOCATION", text=word))
        assert response.status_code == 201, (word, response.json)
        assert TEXT[response.json["start"]:response.json["end"]] == word


def test_create_is_idempotent_on_the_client_id(app, client):
    did, amira, _ = setup_doc()
    body = span_body("SANA", id="same-id")
    first = client.post(f"/api/v1/documents/{did}/spans", headers=amira, json=body)
    replay = client.post(f"/api/v1/documents/{did}/spans", headers={**amira, "If-Match": "0"}, json=body)
    assert first.status_code == 201 and replay.status_code == 200
    assert replay.json == first.json
    other = client.post(f"/api/v1/documents/{did}/spans", headers=amira,
                        json=span_body("Mosul", id="same-id", label="LOCATION"))
    assert other.status_code == 409 and "id" in other.json["errors"]
    assert counts(app) == (1, 0, 1)


def test_casualty_claim_gets_its_counts_prefilled(app, client):
    did, amira, _ = setup_doc()
    response = client.post(f"/api/v1/documents/{did}/spans", headers=amira,
                           json=span_body("almost 100 people dead", label="CASUALTY_CLAIM"))
    assert response.status_code == 201
    assert response.json["attrs"] == {"count_text": "almost 100", "count_value": 100, "count_low": None,
                                      "count_high": 99, "qualifier": "almost", "polarity": "positive",
                                      "outcome": "killed"}
    kept = client.post(f"/api/v1/documents/{did}/spans", headers=amira,
                       json=span_body("100 people", label="CASUALTY_CLAIM",
                                      attrs={"count_value": 7, "qualifier": "exact"}))
    assert kept.json["attrs"]["count_value"] == 7 and kept.json["attrs"]["count_text"] == "100"


def test_relation_between_my_spans_is_created_and_deleted_with_its_span(app, client):
    did, amira, _ = setup_doc()
    client.post(f"/api/v1/documents/{did}/spans", headers=amira,
                json=span_body("almost 100 people dead", id="claim", label="CASUALTY_CLAIM"))
    client.post(f"/api/v1/documents/{did}/spans", headers=amira, json=span_body("SANA", id="sana"))
    created = client.post(f"/api/v1/documents/{did}/relations", headers=amira,
                          json={"id": "r1", "head": "claim", "tail": "sana", "label": "claimed_by"})
    assert created.status_code == 201 and created.json["version"] == 3
    replay = client.post(f"/api/v1/documents/{did}/relations", headers=amira,
                         json={"id": "r1", "head": "claim", "tail": "sana", "label": "claimed_by"})
    assert replay.status_code == 200
    relabel = client.patch(f"/api/v1/documents/{did}/spans/claim", headers=amira, json={"label": "LOCATION"})
    assert relabel.status_code == 422 and "label" in relabel.json["errors"]
    deleted = client.delete(f"/api/v1/documents/{did}/spans/sana", headers=amira)
    assert deleted.json["deleted_relations"] == ["r1"]
    assert counts(app) == (1, 0, 4)


def test_nested_spans_are_allowed_and_crossing_ones_refused(app, client):
    did, amira, _ = setup_doc()
    assert client.post(f"/api/v1/documents/{did}/spans", headers=amira,
                       json=span_body("western Mosul", label="LOCATION")).status_code == 201
    assert client.post(f"/api/v1/documents/{did}/spans", headers=amira,
                       json=span_body("Mosul", label="LOCATION")).status_code == 201
    crossing = client.post(f"/api/v1/documents/{did}/spans", headers=amira,
                           json=span_body("Mosul left", label="ACTOR"))
    assert crossing.status_code == 422 and "cross" in crossing.json["message"]
    same = client.post(f"/api/v1/documents/{did}/spans", headers=amira, json=span_body("Mosul", label="ACTOR"))
    assert same.status_code == 422
    assert counts(app) == (2, 0, 2)


def test_stale_if_match_gets_412_and_changes_nothing(app, client):
    did, amira, _ = setup_doc()
    client.post(f"/api/v1/documents/{did}/spans", headers=amira, json=span_body("SANA", id="a"))
    stale = client.post(f"/api/v1/documents/{did}/spans", headers={**amira, "If-Match": '"0"'},
                        json=span_body("Mosul", label="LOCATION"))
    assert stale.status_code == 412 and stale.headers["ETag"] == '"1"'
    assert client.delete(f"/api/v1/documents/{did}/spans/a",
                         headers={**amira, "If-Match": "0"}).status_code == 412
    bad = client.delete(f"/api/v1/documents/{did}/spans/a", headers={**amira, "If-Match": "latest"})
    assert bad.status_code == 400 and "If-Match" in bad.json["errors"]
    assert counts(app) == (1, 0, 1)


def test_a_repeated_patch_changes_nothing_even_with_an_old_version(app, client):
    did, amira, _ = setup_doc()
    client.post(f"/api/v1/documents/{did}/spans", headers=amira, json=span_body("SANA", id="a"))
    first = client.patch(f"/api/v1/documents/{did}/spans/a", headers={**amira, "If-Match": "1"},
                         json={"attrs": {"mention": "NAM"}})
    again = client.patch(f"/api/v1/documents/{did}/spans/a", headers={**amira, "If-Match": "1"},
                         json={"attrs": {"mention": "NAM"}})
    assert first.json["version"] == 2 and again.status_code == 200 and again.json["version"] == 2


def test_bulk_replace_needs_if_match_and_replaces_everything(app, client):
    did, amira, _ = setup_doc()
    client.post(f"/api/v1/documents/{did}/spans", headers=amira, json=span_body("SANA", id="old"))
    body = {"spans": [span_body("almost 100 people dead", id="c", label="CASUALTY_CLAIM"),
                      span_body("western Mosul", id="l", label="LOCATION")],
            "relations": [{"id": "r", "head": "c", "tail": "l", "label": "place"}]}
    missing = client.put(f"/api/v1/documents/{did}/annotations", headers=amira, json=body)
    assert missing.status_code == 428
    stale = client.put(f"/api/v1/documents/{did}/annotations", headers={**amira, "If-Match": "0"}, json=body)
    assert stale.status_code == 412
    done = client.put(f"/api/v1/documents/{did}/annotations", headers={**amira, "If-Match": "1"}, json=body)
    assert done.status_code == 200 and done.json["version"] == 2
    assert [s["id"] for s in done.json["spans"]] == ["c", "l"]
    assert done.json["relations"] == [{"id": "r", "head": "c", "tail": "l", "label": "place", "attrs": {}}]
    again = client.put(f"/api/v1/documents/{did}/annotations", headers={**amira, "If-Match": "1"}, json=body)
    assert again.status_code == 200 and again.json["version"] == 2
    assert counts(app) == (2, 1, 2)


def test_bulk_replace_reports_errors_by_item_and_changes_nothing(app, client):
    did, amira, _ = setup_doc()
    body = {"spans": [span_body("SANA", id="a"), {"start": 5, "end": 3, "label": "ACTOR", "id": "b"},
                      span_body("Mosul left", id="c")],
            "relations": [{"head": "a", "tail": "zzz", "label": "member_of"}]}
    response = client.put(f"/api/v1/documents/{did}/annotations", headers={**amira, "If-Match": "0"},
                          json=body)
    assert response.status_code == 422
    assert {"spans.1.end", "relations.0.tail"} <= set(response.json["errors"])
    huge = client.put(f"/api/v1/documents/{did}/annotations", headers={**amira, "If-Match": "0"},
                      json={"spans": [{"start": 0, "end": 1, "label": "ACTOR"}] * 20_001})
    assert huge.status_code == 422 and "spans" in huge.json["errors"]
    assert counts(app) == (0, 0, 0)


def test_status_moves_and_submitted_document_refuses_writes_until_reopened(app, client):
    did, amira, _ = setup_doc()
    submitted = client.post(f"/api/v1/documents/{did}/status", headers=amira, json={"status": "submitted"})
    assert submitted.status_code == 200 and submitted.json == {"status": "submitted", "version": 1}
    refused = client.post(f"/api/v1/documents/{did}/spans", headers=amira, json=span_body("SANA"))
    assert refused.status_code == 409 and "status" in refused.json["errors"]
    assert client.post(f"/api/v1/documents/{did}/status", headers=amira,
                       json={"status": "skipped"}).status_code == 409
    reopened = client.post(f"/api/v1/documents/{did}/status", headers=amira, json={"status": "in_progress"})
    assert reopened.json == {"status": "in_progress", "version": 2}
    assert client.post(f"/api/v1/documents/{did}/spans", headers=amira, json=span_body("SANA")).status_code == 201
    with app.app_context():
        assignment = db.session.scalar(select(Assignment).where(Assignment.document_id == did))
        assert assignment.status == "in_progress" and assignment.finished_at is None
        actions = db.session.scalars(select(Event.action).where(Event.document_id == did)).all()
        assert actions.count("assignment.submitted") == 1 and actions.count("assignment.in_progress") == 1


def test_skip_follows_assigned_directly(app, client):
    did, amira, _ = setup_doc()
    response = client.post(f"/api/v1/documents/{did}/status", headers=amira, json={"status": "skipped"})
    assert response.json["status"] == "skipped"
    with app.app_context():
        assignment = db.session.scalar(select(Assignment).where(Assignment.document_id == did))
        assert assignment.finished_at is not None


def test_other_annotator_gets_404_on_every_verb_and_nothing_changes(app, client):
    did, amira, bruno = setup_doc()
    client.post(f"/api/v1/documents/{did}/spans", headers=amira, json=span_body("SANA", id="a"))
    calls = [("get", f"/api/v1/documents/{did}/annotations", None),
             ("get", f"/api/v1/documents/{did}/annotations?annotator=amira", None),
             ("post", f"/api/v1/documents/{did}/spans", span_body("Mosul", label="LOCATION")),
             ("patch", f"/api/v1/documents/{did}/spans/a", {"label": "WEAPON"}),
             ("delete", f"/api/v1/documents/{did}/spans/a", None),
             ("post", f"/api/v1/documents/{did}/relations", {"head": "a", "tail": "a", "label": "coref"}),
             ("put", f"/api/v1/documents/{did}/annotations", {"spans": []}),
             ("post", f"/api/v1/documents/{did}/status", {"status": "submitted"}),
             ("post", "/api/v1/documents/999999/spans", span_body("SANA"))]
    for method, url, body in calls:
        response = getattr(client, method)(url, headers={**bruno, "If-Match": "1"}, json=body)
        assert response.status_code == 404, (method, url, response.status_code)
    assert counts(app) == (1, 0, 1)


def test_reviewer_reads_an_annotators_work_but_cannot_write_it(app, client):
    did, amira, _ = setup_doc()
    client.post(f"/api/v1/documents/{did}/spans", headers=amira, json=span_body("SANA", id="a"))
    reviewer = token_for(make_user("rita", role="reviewer"))
    read = client.get(f"/api/v1/documents/{did}/annotations?annotator=amira", headers=reviewer)
    assert read.status_code == 200 and [s["id"] for s in read.json["spans"]] == ["a"]
    assert client.delete(f"/api/v1/documents/{did}/spans/a", headers=reviewer).status_code == 404
    assert client.get(f"/api/v1/documents/{did}/annotations?annotator=nobody",
                      headers=reviewer).status_code == 404


def test_relation_to_another_users_span_is_refused(app, client):
    did, amira, _ = setup_doc()
    bruno_user = make_user("carla")
    assign(did, bruno_user)
    carla = token_for(bruno_user)
    client.post(f"/api/v1/documents/{did}/spans", headers=carla, json=span_body("SANA", id="hers"))
    client.post(f"/api/v1/documents/{did}/spans", headers=amira,
                json=span_body("almost 100 people dead", id="mine", label="CASUALTY_CLAIM"))
    response = client.post(f"/api/v1/documents/{did}/relations", headers=amira,
                           json={"head": "mine", "tail": "hers", "label": "claimed_by"})
    assert response.status_code == 422 and "tail" in response.json["errors"]
    assert counts(app)[1] == 0


BAD_SPANS = [
    ("start outside the text", {"start": -1, "end": 3, "label": "ACTOR"}, "start"),
    ("end outside the text", {"start": 0, "end": len(TEXT) + 1, "label": "ACTOR"}, "end"),
    ("start equals end", {"start": 4, "end": 4, "label": "ACTOR"}, "end"),
    ("start after end", {"start": 6, "end": 2, "label": "ACTOR"}, "end"),
    ("offset as a string", {"start": "0", "end": 6, "label": "ACTOR"}, "start"),
    ("offset as a float", {"start": 0, "end": 6.5, "label": "ACTOR"}, "end"),
    ("offset as a boolean", {"start": True, "end": 6, "label": "ACTOR"}, "start"),
    ("offset too large", {"start": 0, "end": 2**63, "label": "ACTOR"}, "end"),
    ("missing end", {"start": 0, "label": "ACTOR"}, "end"),
    ("unknown field", {"start": 0, "end": 6, "label": "ACTOR", "user_id": 1}, "user_id"),
    ("inside a surrogate pair (code points make it a modifier split)",
     {"start": TEXT.index("👨") + 1, "end": TEXT.index("👨") + 2, "label": "ACTOR"}, "start"),
    ("splitting a combining mark", {"start": TEXT.index("Me\u0301"), "end": TEXT.index("Me\u0301") + 2,
                                    "label": "ACTOR"}, "end"),
    ("client text that does not match", {"start": 0, "end": 6, "label": "WEAPON", "text": "Hamas!"}, "text"),
    ("unknown label", {"start": 0, "end": 6, "label": "Аctor"}, "label"),
    ("unknown attribute", {"start": 0, "end": 6, "label": "WEAPON", "attrs": {"colour": "red"}}, "attrs"),
    ("attribute of the wrong type", {"start": 0, "end": 6, "label": "CASUALTY_CLAIM",
                                     "attrs": {"count_value": "many"}}, "attrs"),
    ("enum value not allowed", {"start": 0, "end": 6, "label": "WEAPON",
                                "attrs": {"weapon_class": "banana"}}, "attrs"),
    ("bad client id", {"id": "<script>", "start": 0, "end": 6, "label": "WEAPON"}, "id"),
]


@pytest.mark.parametrize("case, body, field", BAD_SPANS, ids=[c[0] for c in BAD_SPANS])
def test_bad_span_gets_a_field_error_and_changes_nothing(app, client, case, body, field):
    did, amira, _ = setup_doc()
    response = client.post(f"/api/v1/documents/{did}/spans", headers=amira, json=body)
    assert response.status_code == 422, (case, response.status_code, response.json)
    assert field in response.json["errors"], response.json
    assert counts(app) == (0, 0, 0)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Event).where(Event.document_id == did)) == 0


def test_relation_the_schema_forbids_gets_a_field_error(app, client):
    did, amira, _ = setup_doc()
    client.post(f"/api/v1/documents/{did}/spans", headers=amira, json=span_body("SANA", id="a"))
    client.post(f"/api/v1/documents/{did}/spans", headers=amira,
                json=span_body("western Mosul", id="l", label="LOCATION"))
    for body, field in [({"head": "a", "tail": "l", "label": "claimed_by"}, "label"),
                        ({"head": "l", "tail": "a", "label": "no_such"}, "label"),
                        ({"head": "a", "tail": "a", "label": "coref"}, "tail"),
                        ({"head": "a", "label": "coref"}, "tail")]:
        response = client.post(f"/api/v1/documents/{did}/relations", headers=amira, json=body)
        assert response.status_code == 422 and field in response.json["errors"], (body, response.json)
    assert counts(app) == (2, 0, 2)


def test_cookie_write_without_csrf_token_is_refused(app, client, login):
    amira = make_user("amira")
    project = make_project(members=[amira])
    [did] = make_documents(project, [TEXT])
    assign(did, amira)
    login("amira")
    refused = client.post(f"/api/v1/documents/{did}/spans", json=span_body("SANA"))
    assert refused.status_code == 400
    token = login.page_csrf()
    accepted = client.post(f"/api/v1/documents/{did}/spans", json=span_body("SANA"),
                           headers={"X-CSRFToken": token})
    assert accepted.status_code == 201
