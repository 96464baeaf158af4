"""Projects through the API: settings, schema validation, orphan protection, members."""

import copy
import json
import threading
import urllib.error
import urllib.request

import pytest
from sqlalchemy import func
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import AnnotationSet
from annotator.models import Assignment
from annotator.models import Event
from annotator.models import Project
from annotator.models import ProjectMember
from annotator.models import Relation
from annotator.models import Span
from annotator.services.projects import render_guidelines
from annotator.services.schema import default_schema
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user
from tests.factories import token_for


@pytest.fixture
def admin(app):
    return token_for(make_user("boss", role="admin"))


def test_admin_creates_a_project_with_the_default_schema_and_settings(client, admin):
    r = client.post("/api/v1/projects", headers=admin, json={
        "name": "pilot", "guidelines": "# Rules",
        "assignment": {"mode": "dynamic", "per_document": 2, "claim_timeout_minutes": 45}})
    assert r.status_code == 201
    assert r.json["assignment"] == {"mode": "dynamic", "per_document": 2, "claim_timeout_minutes": 45}
    assert [label["name"] for label in r.json["schema"]["labels"]] == ["ACTOR", "WEAPON", "LOCATION", "CASUALTY_CLAIM"]
    assert r.json["schema_version"] == 1
    assert client.post("/api/v1/projects", headers=admin, json={"name": "pilot"}).status_code == 409


@pytest.mark.parametrize("assignment, field", [
    ({"mode": "random"}, "mode"),
    ({"per_document": 0}, "assignment.per_document"),
    ({"claim_timeout_minutes": 0}, "assignment.claim_timeout_minutes"),
    ({"per_document": "2"}, "per_document"),
])
def test_bad_assignment_settings_are_422(client, admin, assignment, field):
    r = client.post("/api/v1/projects", headers=admin, json={"name": "pilot", "assignment": assignment})
    assert r.status_code == 422
    assert any(field in key for key in _flat_keys(r.json["errors"])), r.json


def _flat_keys(errors, prefix=""):
    for key, value in errors.items():
        yield prefix + key
        if isinstance(value, dict):
            yield from _flat_keys(value, prefix + key + ".")


def bad_schema(kind):
    schema = default_schema()
    if kind == "hotkeys":
        schema["labels"][1]["hotkey"] = schema["labels"][0]["hotkey"]
        return schema, "labels.1.hotkey"
    schema["relations"][0]["tail"] = ["PERSON"]
    return schema, "relations.0.tail"


@pytest.mark.parametrize("kind", ["hotkeys", "unknown-label"])
def test_invalid_schema_is_refused_on_create_and_on_edit(app, client, admin, kind):
    schema, key = bad_schema(kind)
    r = client.post("/api/v1/projects", headers=admin, json={"name": "pilot", "schema": schema})
    assert r.status_code == 422 and key in r.json["errors"]
    project = make_project(name="kept")
    r = client.patch(f"/api/v1/projects/{project.id}", headers=admin, json={"schema": schema, "name": "renamed"})
    assert r.status_code == 422 and key in r.json["errors"]
    with app.app_context():
        stored = db.session.get(Project, project.id)
        assert (stored.name, stored.schema_version) == ("kept", 1)
        assert db.session.scalar(select(func.count()).select_from(Project)) == 1


def test_admin_edits_name_guidelines_and_settings(app, client, admin):
    project = make_project(name="pilot")
    r = client.patch(f"/api/v1/projects/{project.id}", headers=admin, json={
        "name": "pilot 2", "guidelines": "Be *exact*.", "assignment": {"mode": "dynamic", "per_document": 3}})
    assert r.status_code == 200
    assert r.json["name"] == "pilot 2" and r.json["assignment"]["per_document"] == 3
    with app.app_context():
        event = db.session.scalar(select(Event).where(Event.action == "project.update"))
        assert event.before["name"] == "pilot" and event.after["assignment"]["mode"] == "dynamic"


def stored_annotations(app, project):
    """Store one WEAPON span (drone) and a CLAIM -instrument-> WEAPON relation."""
    user = make_user("amira")
    (document_id,) = make_documents(project, ["Drone strike kills three in the north."])
    with app.app_context():
        annotation_set = AnnotationSet(document_id=document_id, user_id=user.id, kind="manual", version=2)
        db.session.add(annotation_set)
        db.session.flush()
        weapon = Span(set_id=annotation_set.id, uuid="w", start=0, end=5, label="WEAPON",
                      attrs={"weapon_class": "drone"})
        claim = Span(set_id=annotation_set.id, uuid="c", start=19, end=24, label="CASUALTY_CLAIM",
                     attrs={"count_value": 3})
        db.session.add_all([weapon, claim])
        db.session.flush()
        db.session.add(Relation(set_id=annotation_set.id, uuid="r", head_id=claim.id, tail_id=weapon.id,
                                label="instrument", attrs={}))
        db.session.commit()


def edit(schema, change):
    schema = copy.deepcopy(schema)
    change(schema)
    return schema


def _drop_label(schema, name):
    schema["labels"] = [label for label in schema["labels"] if label["name"] != name]
    for relation in schema["relations"]:
        relation["head"] = [n for n in relation["head"] if n != name]
        relation["tail"] = [n for n in relation["tail"] if n != name]
    schema["relations"] = [r for r in schema["relations"] if r["head"] and r["tail"]]


def _weapon(schema):
    return next(label for label in schema["labels"] if label["name"] == "WEAPON")


def _claim(schema):
    return next(label for label in schema["labels"] if label["name"] == "CASUALTY_CLAIM")


ORPHANING_EDITS = {
    "remove label": (lambda s: _drop_label(s, "WEAPON"), "Label WEAPON is used by 1 span."),
    "remove attribute": (lambda s: _weapon(s).update(
        attributes=[a for a in _weapon(s)["attributes"] if a["name"] != "weapon_class"]),
        "Attribute WEAPON.weapon_class is set on 1 span."),
    "remove enum value": (lambda s: next(a for a in _weapon(s)["attributes"] if a["name"] == "weapon_class")
                          ["values"].remove("drone"), "Value 'drone' of WEAPON.weapon_class is used by 1 span."),
    "change attribute type": (lambda s: next(a for a in _claim(s)["attributes"] if a["name"] == "count_value")
                              .update(type="text"), "Attribute CASUALTY_CLAIM.count_value cannot become text"),
    "remove relation type": (lambda s: s.update(relations=[r for r in s["relations"] if r["name"] != "instrument"]),
                             "Relation type instrument is used by 1 relation."),
    "narrow relation": (lambda s: next(r for r in s["relations"] if r["name"] == "instrument")
                        .update(tail=["LOCATION"]), "would no longer allow CASUALTY_CLAIM → WEAPON"),
}


@pytest.mark.parametrize("name", list(ORPHANING_EDITS))
def test_schema_edit_that_orphans_annotations_is_refused_with_the_list(app, client, admin, name):
    project = make_project(name="pilot")
    stored_annotations(app, project)
    change, expected = ORPHANING_EDITS[name]
    r = client.patch(f"/api/v1/projects/{project.id}", headers=admin,
                     json={"schema": edit(project.schema, change), "guidelines": "changed"})
    assert r.status_code == 409, r.json
    assert any(expected in line for line in r.json["errors"]["schema"]), r.json["errors"]["schema"]
    with app.app_context():
        stored = db.session.get(Project, project.id)
        assert stored.schema_version == 1 and stored.guidelines == ""


def test_schema_edit_that_keeps_every_annotation_is_saved(app, client, admin):
    project = make_project(name="pilot")
    stored_annotations(app, project)

    def change(schema):
        schema["relations"] = [r for r in schema["relations"] if r["name"] != "coref"]
        _weapon(schema)["attributes"][-1]["values"].append("loitering_munition")
        schema["labels"].append({"name": "ATTACK", "color": "#ff7f0e", "hotkey": "5", "attributes": [
            {"name": "kind", "type": "enum", "values": ["air", "ground"], "required": True}]})

    r = client.patch(f"/api/v1/projects/{project.id}", headers=admin, json={"schema": edit(project.schema, change)})
    assert r.status_code == 200 and r.json["schema_version"] == 2
    assert "ATTACK" in [label["name"] for label in r.json["schema"]["labels"]]


def test_members_are_added_listed_and_removed(app, client, admin):
    project = make_project(name="pilot")
    amira, bruno = make_user("amira"), make_user("bruno")
    r = client.post(f"/api/v1/projects/{project.id}/members", headers=admin, json={"usernames": ["amira", "bruno"]})
    assert r.status_code == 200 and [m["username"] for m in r.json] == ["amira", "bruno"]
    r = client.post(f"/api/v1/projects/{project.id}/members", headers=admin, json={"usernames": ["ghost"]})
    assert r.status_code == 422 and "ghost" in r.json["errors"]["usernames"][0]
    ids = make_documents(project, ["First text.", "Second text."])
    client.post(f"/api/v1/projects/{project.id}/assignments", headers=admin,
                json={"annotators": ["amira"], "per_document": 1})
    with app.app_context():
        db.session.execute(Assignment.__table__.update().where(Assignment.document_id == ids[0])
                           .values(status="submitted"))
        db.session.commit()
    assert client.delete(f"/api/v1/projects/{project.id}/members/amira", headers=admin).status_code == 204
    assert client.delete(f"/api/v1/projects/{project.id}/members/amira", headers=admin).status_code == 404
    listed = client.get(f"/api/v1/projects/{project.id}/members", headers=admin).json
    assert [m["username"] for m in listed] == ["bruno"]
    with app.app_context():
        # Open work went back to the pool; the submitted document stays hers.
        assert [(a.document_id, a.status) for a in db.session.scalars(select(Assignment))] == [(ids[0], "submitted")]
        assert db.session.get(ProjectMember, (project.id, amira.id)) is None
        assert db.session.get(ProjectMember, (project.id, bruno.id)) is not None


def test_annotators_see_only_their_projects_and_cannot_edit(client, admin):
    me = make_user("amira")
    mine = make_project(name="mine", members=[me])
    other = make_project(name="other")
    headers = token_for(me)
    assert [p["name"] for p in client.get("/api/v1/projects", headers=headers).json] == ["mine"]
    assert client.get(f"/api/v1/projects/{mine.id}", headers=headers).status_code == 200
    missing = client.get(f"/api/v1/projects/{other.id}", headers=headers)
    assert missing.status_code == 404 and missing.json == client.get("/api/v1/projects/999999", headers=headers).json
    assert client.patch(f"/api/v1/projects/{mine.id}", headers=headers, json={"name": "x"}).status_code == 403
    assert client.post("/api/v1/projects", headers=headers, json={"name": "x"}).status_code == 403
    assert client.get(f"/api/v1/projects/{mine.id}/members", headers=headers).status_code == 403
    assert len(client.get("/api/v1/projects", headers=admin).json) == 2


def test_guidelines_render_without_raw_html_or_script_links():
    html = str(render_guidelines("# Title\n<script>alert(1)</script>\n[x](javascript:alert(1)) **bold**"))
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html
    assert "<script>" not in html and 'href="javascript' not in html


def test_thirty_concurrent_identical_member_adds_all_succeed_once(app, live_server, admin):
    """POST /members is idempotent under concurrency too: 30 at once, one row, one audit event."""
    amira = make_user("amira")
    project = make_project(name="pilot")
    barrier = threading.Barrier(30)
    results = [None] * 30

    def call(i):
        request = urllib.request.Request(
            f"{live_server}/api/v1/projects/{project.id}/members", method="POST",
            data=json.dumps({"usernames": ["amira"]}).encode(),
            headers={**admin, "Content-Type": "application/json"})
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                results[i] = (response.status, [m["username"] for m in json.loads(response.read())])
        except urllib.error.HTTPError as error:
            results[i] = (error.code, json.loads(error.read()))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert results == [(200, ["amira"])] * 30, [r for r in results if r != (200, ["amira"])]
    with app.app_context():
        rows = db.session.scalars(select(ProjectMember).where(ProjectMember.project_id == project.id)).all()
        assert [(m.user_id) for m in rows] == [amira.id]
        events = db.session.scalars(select(Event).where(Event.action == "member.add")).all()
        assert [e.after for e in events] == [{"username": "amira"}]


def test_adding_present_and_new_members_audits_only_the_new_ones(app, client, admin):
    amira, bruno = make_user("amira"), make_user("bruno")
    project = make_project(name="pilot", members=[amira])
    r = client.post(f"/api/v1/projects/{project.id}/members", headers=admin,
                    json={"usernames": ["amira", "bruno", "bruno"]})
    assert r.status_code == 200 and [m["username"] for m in r.json] == ["amira", "bruno"]
    with app.app_context():
        events = db.session.scalars(select(Event).where(Event.action == "member.add")).all()
        assert [e.after for e in events] == [{"username": "bruno"}]
        assert db.session.get(ProjectMember, (project.id, bruno.id)) is not None


# Every place of a label schema, and what a wrong type there must answer: 422 keyed by the
# dotted path docs/admin.md documents. A list item that is wrong is reported at its list.
WRONG = {"list": ["ACTOR"], "object": {"name": "ACTOR"}, "number": 7, "null": None, "text": "ACTOR"}
SCHEMA_PLACES = [
    # (where, the key of the error, the wrong kinds of value to try there)
    ("overlap", "overlap", ["list", "object", "number", "null"]),
    ("labels", "labels", ["object", "number", "null", "text"]),
    ("labels.0", "labels.0", ["list", "number", "null", "text"]),
    ("labels.0.name", "labels.0.name", ["list", "object", "number", "null"]),
    ("labels.0.color", "labels.0.color", ["list", "object", "number", "null"]),
    ("labels.0.hotkey", "labels.0.hotkey", ["list", "object", "number"]),
    ("labels.0.description", "labels.0.description", ["list", "object", "number", "null"]),
    ("labels.0.attributes", "labels.0.attributes", ["object", "number", "null", "text"]),
    ("labels.0.attributes.0", "labels.0.attributes.0", ["list", "number", "null", "text"]),
    ("labels.0.attributes.0.name", "labels.0.attributes.0.name", ["list", "object", "number", "null"]),
    ("labels.0.attributes.0.type", "labels.0.attributes.0.type", ["list", "object", "number", "null"]),
    ("labels.0.attributes.0.values", "labels.0.attributes.0.values", ["object", "number", "null", "text"]),
    ("labels.0.attributes.0.values.1", "labels.0.attributes.0.values", ["list", "object", "number", "null"]),
    ("labels.0.attributes.0.required", "labels.0.attributes.0.required", ["list", "object", "number", "null", "text"]),
    ("relations", "relations", ["object", "number", "null", "text"]),
    ("relations.0", "relations.0", ["list", "number", "null", "text"]),
    ("relations.0.name", "relations.0.name", ["list", "object", "number", "null"]),
    ("relations.0.head", "relations.0.head", ["object", "number", "null", "text"]),
    ("relations.0.head.0", "relations.0.head", ["list", "object", "number", "null"]),
    ("relations.0.tail", "relations.0.tail", ["object", "number", "null", "text"]),
    ("relations.0.tail.0", "relations.0.tail", ["list", "object", "number", "null"]),
    ("relations.0.same_label", "relations.0.same_label", ["list", "object", "number", "null", "text"]),
    ("relations.0.description", "relations.0.description", ["list", "object", "number", "null"]),
]


def schema_with(where, value):
    """Return the default schema with the value at dotted path ``where`` replaced by ``value``."""
    schema = default_schema()
    *parents, last = where.split(".")
    node = schema
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(last) if isinstance(node, list) else last] = value
    return schema


@pytest.mark.parametrize("where, key, kinds", SCHEMA_PLACES, ids=[place[0] for place in SCHEMA_PLACES])
def test_a_wrong_type_anywhere_in_the_schema_is_422_at_its_dotted_path(app, client, admin, where, key, kinds):
    project = make_project(name="kept")
    for kind in kinds:
        schema = schema_with(where, copy.deepcopy(WRONG[kind]))
        created = client.post("/api/v1/projects", headers=admin, json={"name": "pilot", "schema": schema})
        assert created.status_code == 422, (kind, created.json)
        assert key in created.json["errors"], (kind, created.json)
        changed = client.patch(f"/api/v1/projects/{project.id}", headers=admin, json={"schema": schema})
        assert changed.status_code == 422, (kind, changed.json)
        assert key in changed.json["errors"], (kind, changed.json)
    with app.app_context():
        assert db.session.scalars(select(Project.schema_version)).all() == [1]


def test_a_schema_that_is_not_an_object_is_422(client, admin):
    project = make_project(name="kept")
    for value in (["labels"], 7, "schema"):
        r = client.post("/api/v1/projects", headers=admin, json={"name": "pilot", "schema": value})
        assert r.status_code == 422 and list(r.json["errors"]) == ["schema"], r.json
        r = client.patch(f"/api/v1/projects/{project.id}", headers=admin, json={"schema": value})
        assert r.status_code == 422 and list(r.json["errors"]) == ["schema"], r.json
    r = client.patch(f"/api/v1/projects/{project.id}", headers=admin, json={"schema": None})
    assert r.status_code == 422 and "schema" in r.json["errors"]


@pytest.mark.parametrize("where, value, key, message", [
    ("labels.0.name", "ACTOR\n", "labels.0.name", "ASCII letters"),
    ("labels.0.color", "#1f77b4\n", "labels.0.color", "colour"),
    ("labels.0.hotkey", "0", "labels.0.hotkey", "digit from 1 to 9"),
    ("labels.0.attributes.0.values", ["PER", "PER"], "labels.0.attributes.0.values", "more than once: PER"),
    ("labels.0.attributes.0.values", [], "labels.0.attributes.0.values", "non-empty"),
    ("labels.0.attributes.0.values.0", "", "labels.0.attributes.0.values", "Item 0"),
    ("labels.0.attributes.0.type", "float", "labels.0.attributes.0.type", "Must be one of"),
    ("labels.0.attributes.0.unit", "cm", "labels.0.attributes.0.unit", "Unknown field"),
    ("labels.2.attributes.3", {"name": "lang", "type": "text", "values": ["en"]},
     "labels.2.attributes.3.values", "Only enum"),
    ("relations.0.head", [], "relations.0.head", "List the labels"),
    ("relations.0.same_label", "true", "relations.0.same_label", "true or false"),
    ("overlap", "some", "overlap", "Must be one of"),
])
def test_schema_values_of_the_right_type_but_wrong_shape_are_422(client, admin, where, value, key, message):
    r = client.post("/api/v1/projects", headers=admin, json={"name": "pilot", "schema": schema_with(where, value)})
    assert r.status_code == 422 and key in r.json["errors"], r.json
    assert message in " ".join(r.json["errors"][key])


def test_schema_defaults_are_filled_in_and_a_resent_schema_changes_nothing(app, client, admin):
    schema = {"labels": [{"name": "ACTOR", "attributes": [{"name": "kind", "type": "enum", "values": ["a"]}]}],
              "relations": [{"name": "knows", "head": ["ACTOR"], "tail": ["ACTOR"]}]}
    r = client.post("/api/v1/projects", headers=admin, json={"name": "pilot", "schema": schema})
    assert r.status_code == 201, r.json
    stored = r.json["schema"]
    assert stored["overlap"] == "nest"
    assert stored["labels"] == [{"name": "ACTOR", "color": "#888888", "hotkey": None, "description": "",
                                 "attributes": [{"name": "kind", "type": "enum", "values": ["a"],
                                                 "required": False}]}]
    assert stored["relations"] == [{"name": "knows", "head": ["ACTOR"], "tail": ["ACTOR"],
                                    "same_label": False, "description": ""}]
    again = client.patch(f"/api/v1/projects/{r.json['id']}", headers=admin, json={"schema": stored})
    assert again.status_code == 200 and again.json["schema_version"] == 1
