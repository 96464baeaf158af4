"""Assignment: the pure planner, static assignment, unassign/reassign, dynamic claims."""

import json
import threading
import urllib.request
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import AnnotationSet
from annotator.models import Assignment
from annotator.models import Event
from annotator.models import Span
from annotator.models import now_utc
from annotator.services import assignments
from annotator.services.assignments import plan_assignments
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user
from tests.factories import token_for

# ---------------------------------------------------------------------------------------------
# The planner (pure)


def test_plan_gives_each_document_k_distinct_annotators_balanced():
    plan = plan_assignments([(d, set()) for d in range(1, 31)], [(1, 0), (2, 0), (3, 0)], 2)
    per_doc = Counter(d for d, _ in plan.pairs)
    assert set(per_doc.values()) == {2} and len(per_doc) == 30
    assert len(set(plan.pairs)) == 60
    loads = Counter(u for _, u in plan.pairs)
    assert max(loads.values()) - min(loads.values()) <= 1


def test_plan_is_deterministic_and_prefers_the_least_loaded():
    documents = [(d, set()) for d in range(5)]
    annotators = [(7, 3), (8, 0), (9, 1)]
    first = plan_assignments(documents, annotators, 1)
    assert first.pairs == plan_assignments(documents, annotators, 1).pairs
    # 8 is empty, so it goes first; then 8 and 9 are level (1) and 9 was named later.
    assert [u for _, u in first.pairs] == [8, 8, 9, 8, 9]


def test_plan_never_puts_an_annotator_twice_on_a_document_and_counts_existing():
    plan = plan_assignments([(1, {5}), (2, {5, 6}), (3, set())], [(5, 0), (6, 0)], 2)
    assert (1, 5) not in plan.pairs and (1, 6) in plan.pairs
    assert [p for p in plan.pairs if p[0] == 2] == []
    assert plan.complete == 1
    assert sorted(u for d, u in plan.pairs if d == 3) == [5, 6]


def test_plan_is_idempotent_on_repeat():
    documents = [(d, set()) for d in range(10)]
    annotators = [(1, 0), (2, 0), (3, 0)]
    plan = plan_assignments(documents, annotators, 2)
    after = {d: set() for d, _ in documents}
    for d, u in plan.pairs:
        after[d].add(u)
    again = plan_assignments(list(after.items()), annotators, 2)
    assert again.pairs == [] and again.complete == 10


def test_plan_reports_documents_it_cannot_fill():
    plan = plan_assignments([(1, {1})], [(1, 0)], 2)
    assert plan.pairs == [] and plan.short == {1: 1}


# ---------------------------------------------------------------------------------------------
# Static assignment through the API


def setup_project(n_docs=30, annotators=("ann1", "ann2", "ann3"), **project_options):
    admin = make_user("boss", role="admin")
    users = [make_user(name) for name in annotators]
    project = make_project(members=users, **project_options)
    ids = make_documents(project, [f"Article number {i}: shelling in the north." for i in range(n_docs)])
    return token_for(admin), project, users, ids


def test_admin_creates_annotators_imports_and_assigns_k2(app, client):
    """Resolved-when: 3 annotators, 30 documents, k=2 -> 2 distinct each, loads within 1."""
    admin = token_for(make_user("boss", role="admin"))
    for name in ("ann1", "ann2", "ann3"):
        r = client.post("/api/v1/users", headers=admin,
                        json={"username": name, "password": "a long password", "role": "annotator"})
        assert r.status_code == 201
    project = client.post("/api/v1/projects", headers=admin, json={"name": "pilot"}).json
    assert client.post(f"/api/v1/projects/{project['id']}/members", headers=admin,
                       json={"usernames": ["ann1", "ann2", "ann3"]}).status_code == 200
    with app.app_context():
        from annotator.models import Project
        ids = make_documents(db.session.get(Project, project["id"]),
                             [f"Report {i}: two killed in Aleppo." for i in range(30)])
    assert len(ids) == 30
    r = client.post(f"/api/v1/projects/{project['id']}/assignments", headers=admin,
                    json={"annotators": ["ann1", "ann2", "ann3"], "per_document": 2})
    assert r.status_code == 201, r.json
    assert r.json["created"] == 60 and r.json["loads"] == {"ann1": 20, "ann2": 20, "ann3": 20}
    with app.app_context():
        rows = db.session.execute(select(Assignment.document_id, Assignment.user_id)).all()
    per_doc = {}
    for document_id, user_id in rows:
        per_doc.setdefault(document_id, []).append(user_id)
    assert sorted(per_doc) == sorted(ids)
    assert all(len(users) == 2 and len(set(users)) == 2 for users in per_doc.values())
    loads = Counter(u for _, u in rows)
    assert max(loads.values()) - min(loads.values()) <= 1
    again = client.post(f"/api/v1/projects/{project['id']}/assignments", headers=admin,
                        json={"annotators": ["ann1", "ann2", "ann3"], "per_document": 2})
    assert again.status_code == 201 and again.json["created"] == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Assignment)) == 60
        assert db.session.scalar(select(func.count()).select_from(Event)
                                 .where(Event.action == "assignment.create")) == 60


def test_dry_run_plans_without_storing(app, client):
    admin, project, _, ids = setup_project(n_docs=4)
    r = client.post(f"/api/v1/projects/{project.id}/assignments", headers=admin,
                    json={"annotators": ["ann1", "ann2"], "per_document": 1, "dry_run": True})
    assert r.status_code == 200 and r.json["dry_run"] is True
    assert [p["annotator"] for p in r.json["planned"]] == ["ann1", "ann2", "ann1", "ann2"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Assignment)) == 0


def test_assigning_a_selection_leaves_other_documents_alone(app, client):
    admin, project, _, ids = setup_project(n_docs=6)
    r = client.post(f"/api/v1/projects/{project.id}/assignments", headers=admin,
                    json={"annotators": ["ann1", "ann2"], "per_document": 2, "documents": ids[:2]})
    assert r.status_code == 201 and r.json["created"] == 4
    with app.app_context():
        assert set(db.session.scalars(select(Assignment.document_id))) == set(ids[:2])


@pytest.mark.parametrize("body, field, fragment", [
    ({"annotators": ["ann1", "ann2"], "per_document": 3}, "per_document", "at most the number"),
    ({"annotators": ["ann1", "outsider"], "per_document": 1}, "annotators", "not a member"),
    ({"annotators": ["ann1", "sleeper"], "per_document": 1}, "annotators", "deactivated"),
    ({"annotators": ["ann1", "ghost"], "per_document": 1}, "annotators", "No user named"),
    ({"annotators": ["ann1"], "per_document": 1, "documents": [999999]}, "documents", "999999"),
    ({"annotators": ["ann1"], "per_document": 0}, "per_document", ""),
    ({"annotators": [], "per_document": 1}, "annotators", ""),
])
def test_bad_assignment_requests_get_422_and_store_nothing(app, client, body, field, fragment):
    admin, project, users, ids = setup_project(n_docs=3)
    make_user("outsider")
    sleeper = make_user("sleeper", active=False)
    with app.app_context():
        from annotator.models import ProjectMember
        db.session.add(ProjectMember(project_id=project.id, user_id=sleeper.id))
        db.session.commit()
    r = client.post(f"/api/v1/projects/{project.id}/assignments", headers=admin, json=body)
    assert r.status_code == 422, r.json
    assert field in r.json["errors"] and fragment in " ".join(r.json["errors"][field])
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Assignment)) == 0
        assert db.session.scalar(select(func.count()).select_from(Event)
                                 .where(Event.action.like("assignment.%"))) == 0


def test_a_document_of_another_project_is_unknown(app, client):
    admin, project, _, _ = setup_project(n_docs=1)
    other = make_project(name="other")
    foreign = make_documents(other, ["A text in another project."])
    r = client.post(f"/api/v1/projects/{project.id}/assignments", headers=admin,
                    json={"annotators": ["ann1"], "per_document": 1, "documents": foreign})
    assert r.status_code == 422 and str(foreign[0]) in r.json["errors"]["documents"][0]


def test_annotator_cannot_assign_and_unknown_project_is_404(client):
    admin, project, users, _ = setup_project(n_docs=1)
    me = token_for(users[0])
    body = {"annotators": ["ann1"], "per_document": 1}
    assert client.post(f"/api/v1/projects/{project.id}/assignments", headers=me, json=body).status_code == 403
    assert client.post("/api/v1/projects/999999/assignments", headers=admin, json=body).status_code == 404


def add_span(app, document_id, user_id):
    with app.app_context():
        annotation_set = AnnotationSet(document_id=document_id, user_id=user_id, kind="manual", version=1)
        db.session.add(annotation_set)
        db.session.flush()
        db.session.add(Span(set_id=annotation_set.id, uuid="s1", start=0, end=7, label="ACTOR", attrs={}))
        db.session.commit()


def test_unassign_and_reassign_keep_annotations(app, client):
    admin, project, users, ids = setup_project(n_docs=1)
    r = client.post(f"/api/v1/projects/{project.id}/assignments", headers=admin,
                    json={"annotators": ["ann1"], "per_document": 1})
    aid = r.json["assignments"][0]["id"]
    add_span(app, ids[0], users[0].id)
    moved = client.patch(f"/api/v1/assignments/{aid}", headers=admin, json={"annotator": "ann2"})
    assert moved.status_code == 200 and moved.json["annotator"] == "ann2" and moved.json["status"] == "assigned"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Span)) == 1
    assert client.delete(f"/api/v1/assignments/{moved.json['id']}", headers=admin).status_code == 204
    assert client.delete(f"/api/v1/assignments/{moved.json['id']}", headers=admin).status_code == 404
    # ann1 comes back: their work is found again, so the assignment resumes in progress.
    r = client.post(f"/api/v1/projects/{project.id}/assignments", headers=admin,
                    json={"annotators": ["ann1"], "per_document": 1})
    assert r.json["assignments"][0]["status"] == "in_progress"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Span)) == 1
        actions = list(db.session.scalars(select(Event.action).order_by(Event.id)))
    assert actions[-4:] == ["assignment.create", "assignment.reassign", "assignment.delete", "assignment.create"]


def test_reassigning_to_someone_already_on_the_document_is_refused(client):
    admin, project, users, ids = setup_project(n_docs=1)
    r = client.post(f"/api/v1/projects/{project.id}/assignments", headers=admin,
                    json={"annotators": ["ann1", "ann2"], "per_document": 2})
    aid = r.json["assignments"][0]["id"]
    moved = client.patch(f"/api/v1/assignments/{aid}", headers=admin, json={"annotator": "ann2"})
    assert moved.status_code == 422 and "already assigned" in moved.json["errors"]["annotator"][0]


def test_my_assignments_lists_only_mine_with_filters(client):
    admin, project, users, ids = setup_project(n_docs=4)
    client.post(f"/api/v1/projects/{project.id}/assignments", headers=admin,
                json={"annotators": ["ann1", "ann2"], "per_document": 1})
    mine = client.get(f"/api/v1/me/assignments?project={project.id}", headers=token_for(users[0]))
    assert mine.status_code == 200 and len(mine.json) == 2
    assert set(mine.json[0]) >= {"id", "document_id", "project_id", "status", "updated_at"}
    assert {a["annotator"] for a in mine.json} == {"ann1"}
    none = client.get("/api/v1/me/assignments?status=submitted", headers=token_for(users[0]))
    assert none.json == []
    bad = client.get("/api/v1/me/assignments?status=done", headers=token_for(users[0]))
    assert bad.status_code == 422


def test_static_next_returns_my_open_document_then_204(app, client):
    admin, project, users, ids = setup_project(n_docs=1)
    me = token_for(users[0])
    assert client.get(f"/api/v1/projects/{project.id}/next", headers=me).status_code == 204
    client.post(f"/api/v1/projects/{project.id}/assignments", headers=admin,
                json={"annotators": ["ann1"], "per_document": 1})
    r = client.get(f"/api/v1/projects/{project.id}/next", headers=me)
    assert r.status_code == 200 and r.json["id"] == ids[0] and "text" in r.json and "tokens" in r.json
    with app.app_context():
        db.session.execute(Assignment.__table__.update().values(status="submitted"))
        db.session.commit()
    assert client.get(f"/api/v1/projects/{project.id}/next", headers=me).status_code == 204
    outsider = token_for(make_user("outsider"))
    assert client.get(f"/api/v1/projects/{project.id}/next", headers=outsider).status_code == 404


# ---------------------------------------------------------------------------------------------
# Dynamic mode


def test_dynamic_next_claims_until_each_document_has_k(app, client):
    admin, project, users, ids = setup_project(n_docs=2, assignment_mode="dynamic", per_document=2)
    tokens = [token_for(u) for u in users]
    first = client.get(f"/api/v1/projects/{project.id}/next", headers=tokens[0]).json["id"]
    # Asking again returns the same open claim, not a second document.
    assert client.get(f"/api/v1/projects/{project.id}/next", headers=tokens[0]).json["id"] == first
    # The partly covered document is finished before a new one is started.
    assert client.get(f"/api/v1/projects/{project.id}/next", headers=tokens[1]).json["id"] == first
    assert client.get(f"/api/v1/projects/{project.id}/next", headers=tokens[2]).json["id"] != first
    with app.app_context():
        claims = db.session.scalars(select(Assignment)).all()
        assert all(a.claim_expires_at is not None for a in claims)
        assert db.session.scalar(select(func.count()).select_from(Event)
                                 .where(Event.action == "assignment.claim")) == 3


def test_abandoned_claims_return_to_the_pool(app, client):
    admin, project, users, ids = setup_project(n_docs=1, assignment_mode="dynamic", per_document=1,
                                               claim_timeout_minutes=30)
    a, b = token_for(users[0]), token_for(users[1])
    assert client.get(f"/api/v1/projects/{project.id}/next", headers=a).status_code == 200
    assert client.get(f"/api/v1/projects/{project.id}/next", headers=b).status_code == 204
    with app.app_context():
        db.session.execute(Assignment.__table__.update().values(
            claim_expires_at=now_utc() - timedelta(minutes=1)))
        db.session.commit()
    r = client.get(f"/api/v1/projects/{project.id}/next", headers=b)
    assert r.status_code == 200 and r.json["id"] == ids[0]
    with app.app_context():
        assert [a.user_id for a in db.session.scalars(select(Assignment))] == [users[1].id]
        assert db.session.scalar(select(func.count()).select_from(Event)
                                 .where(Event.action == "assignment.expire")) == 1


def test_a_claim_with_recent_work_is_not_taken_away(app, client):
    admin, project, users, ids = setup_project(n_docs=1, assignment_mode="dynamic", per_document=1)
    a, b = token_for(users[0]), token_for(users[1])
    client.get(f"/api/v1/projects/{project.id}/next", headers=a)
    add_span(app, ids[0], users[0].id)
    with app.app_context():
        db.session.execute(Assignment.__table__.update().values(
            claim_expires_at=now_utc() - timedelta(minutes=1)))
        db.session.commit()
    assert client.get(f"/api/v1/projects/{project.id}/next", headers=b).status_code == 204


def test_dynamic_claims_need_membership(app, client):
    admin, project, users, ids = setup_project(n_docs=1, assignment_mode="dynamic")
    boss = make_user("reviewer1", role="reviewer")
    r = client.get(f"/api/v1/projects/{project.id}/next", headers=token_for(boss))
    assert r.status_code == 403


def test_twenty_concurrent_next_calls_claim_ten_documents_once_each(app, live_server):
    """Resolved-when: k=1, 10 documents, 20 annotators ask at once over real HTTP."""
    names = [f"racer{i:02d}" for i in range(20)]
    admin, project, users, ids = setup_project(n_docs=10, annotators=names, assignment_mode="dynamic",
                                               per_document=1)
    headers = [token_for(u) for u in users]
    barrier = threading.Barrier(20)
    results = [None] * 20

    def call(i):
        request = urllib.request.Request(f"{live_server}/api/v1/projects/{project.id}/next", headers=headers[i])
        barrier.wait()
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read()
            results[i] = (response.status, json.loads(body)["id"] if response.status == 200 else None)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    statuses = Counter(status for status, _ in results)
    assert statuses == {200: 10, 204: 10}, results
    claimed = [document_id for status, document_id in results if status == 200]
    assert sorted(claimed) == sorted(ids)
    with app.app_context():
        rows = db.session.execute(select(Assignment.document_id, func.count())
                                  .group_by(Assignment.document_id)).all()
    assert sorted(d for d, _ in rows) == sorted(ids) and {n for _, n in rows} == {1}


def test_assign_service_refuses_before_touching_anything(ctx):
    project = make_project(members=[make_user("solo")])
    make_documents(project, ["One text."])
    with pytest.raises(Exception) as caught:
        assignments.assign_documents(project, ["solo"], 2)
    assert caught.value.code == 422
    assert db.session.scalar(select(func.count()).select_from(Assignment)) == 0


def test_cli_assign_is_balanced_idempotent_and_reports_errors(app, runner):
    admin, project, users, ids = setup_project(n_docs=6)
    args = ["assign", project.name, "--annotators", "ann1,ann2,ann3", "--per-document", "2"]
    preview = runner.invoke(args=[*args, "--dry-run"])
    assert preview.exit_code == 0 and "Would assign 12" in preview.output
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "Assigned 12" in result.output and "ann1=4 ann2=4 ann3=4" in result.output
    assert "Assigned 0" in runner.invoke(args=args).output
    bad = runner.invoke(args=["assign", str(project.id), "--annotators", "ann1", "--per-document", "2"])
    assert bad.exit_code == 1 and "at most the number of annotators" in bad.output
    unknown = runner.invoke(args=[*args, "--documents", f"{ids[0]},999999"])
    assert unknown.exit_code == 1 and "999999" in unknown.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Assignment)) == 12
