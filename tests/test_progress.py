"""Progress figures: per annotator, per label, overall; the API, the CSV and who may see them."""

import csv
import io
from datetime import timedelta

from annotator.extensions import db
from annotator.models import AnnotationSet
from annotator.models import Assignment
from annotator.models import Span
from annotator.models import now_utc
from annotator.services.progress import project_progress
from tests.factories import make_documents
from tests.factories import make_project
from tests.factories import make_user
from tests.factories import token_for


def build(app):
    """Two annotators on 3 documents, k=2: amira submitted 2 (10 and 20 minutes), bruno mixed."""
    amira, bruno = make_user("amira"), make_user("bruno")
    make_user("outsider")
    project = make_project(name="pilot", members=[amira, bruno], per_document=2)
    ids = make_documents(project, ["One text here.", "Two text here.", "Three text here."])
    now = now_utc()
    rows = [
        (ids[0], amira, "submitted", 10), (ids[1], amira, "submitted", 20), (ids[2], amira, "in_progress", None),
        (ids[0], bruno, "submitted", 40), (ids[1], bruno, "skipped", None), (ids[2], bruno, "assigned", None),
    ]
    with app.app_context():
        for document_id, user, status, minutes in rows:
            started = now - timedelta(hours=1) if status != "assigned" else None
            finished = started + timedelta(minutes=minutes) if minutes else (now if status == "skipped" else None)
            db.session.add(Assignment(document_id=document_id, user_id=user.id, status=status,
                                      started_at=started, finished_at=finished))
        annotation_set = AnnotationSet(document_id=ids[0], user_id=amira.id, kind="manual", version=3)
        suggestion = AnnotationSet(document_id=ids[0], user_id=None, kind="suggestion", version=1)
        db.session.add_all([annotation_set, suggestion])
        db.session.flush()
        db.session.add_all([
            Span(set_id=annotation_set.id, uuid="a", start=0, end=3, label="ACTOR", attrs={}),
            Span(set_id=annotation_set.id, uuid="b", start=4, end=8, label="ACTOR", attrs={}),
            Span(set_id=annotation_set.id, uuid="c", start=9, end=13, label="LOCATION", attrs={}),
            Span(set_id=suggestion.id, uuid="s", start=0, end=3, label="WEAPON", attrs={}),
        ])
        db.session.commit()
    return project


def test_progress_figures(app):
    project = build(app)
    with app.app_context():
        data = project_progress(project)
    by_name = {a["annotator"]: a for a in data["annotators"]}
    assert set(by_name) == {"amira", "bruno"}
    amira, bruno = by_name["amira"], by_name["bruno"]
    statuses = ("total", "assigned", "in_progress", "submitted", "skipped")
    assert [amira[s] for s in statuses] == [3, 0, 1, 2, 0]
    assert (bruno["total"], bruno["assigned"], bruno["submitted"], bruno["skipped"]) == (3, 1, 1, 1)
    assert amira["spans"] == 3 and bruno["spans"] == 0
    assert amira["median_minutes"] == 15.0 and bruno["median_minutes"] == 40.0
    overall = data["overall"]
    # Slots: 3 documents x k=2 = 6; finished: doc0 2 submitted, doc1 submitted + skipped = 4.
    assert (overall["documents"], overall["slots"], overall["finished"], overall["documents_complete"]) == (3, 6, 4, 2)
    assert overall["completion"] == round(4 / 6, 4)
    assert overall["median_minutes"] == 20.0
    labels = {entry["label"]: entry["spans"] for entry in data["labels"]}
    assert labels == {"ACTOR": 2, "WEAPON": 0, "LOCATION": 1, "CASUALTY_CLAIM": 0}  # suggestions are not work
    assert sum(day["submitted"] for day in data["daily"]) == 3 and len(data["daily"]) == 14


def test_progress_api_for_admin_and_reviewer_only(app, client):
    project = build(app)
    reviewer = token_for(make_user("rev", role="reviewer"))
    r = client.get(f"/api/v1/projects/{project.id}/progress", headers=reviewer)
    assert r.status_code == 200 and r.json["overall"]["finished"] == 4
    assert client.get(f"/api/v1/projects/{project.id}/progress", headers=token_for(make_user("ann", role="annotator"))
                      ).status_code == 403
    assert client.get("/api/v1/projects/999999/progress", headers=reviewer).status_code == 404


def test_progress_csv_matches_the_figures(app, client):
    project = build(app)
    admin = token_for(make_user("boss", role="admin"))
    r = client.get(f"/api/v1/projects/{project.id}/progress.csv", headers=admin)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert [row["annotator"] for row in rows] == ["amira", "bruno", "(all)"]
    assert rows[0]["submitted"] == "2" and rows[0]["median_minutes"] == "15.0" and rows[2]["total"] == "6"


def test_csv_cells_cannot_become_formulas(app):
    from annotator.services.progress import progress_csv

    data = {"annotators": [{"annotator": "=HYPERLINK(1)", "role": "annotator", "active": True, "member": True,
                            "total": 0, "assigned": 0, "in_progress": 0, "submitted": 0, "skipped": 0, "spans": 0,
                            "median_minutes": None, "last_activity": None}],
            "overall": {"assigned": 0, "in_progress": 0, "submitted": 0, "skipped": 0, "spans": 0,
                        "median_minutes": None}}
    assert "\n'=HYPERLINK(1)," in progress_csv(data)
