"""Progress figures of a project: per annotator, per label, and overall.

One function, :func:`project_progress`, computes every figure the dashboard, the API
(``GET /api/v1/projects/{pid}/progress``) and the CSV download show, so they always agree.

- **Per annotator**: assignments by status (assigned = not started yet, in progress,
  submitted, skipped), their total, spans in their annotation sets, and the median minutes per
  finished document (``started_at`` to ``finished_at`` of submitted assignments).
- **Per label**: spans (manual sets only: suggestions are not work) and relations by type.
- **Overall**: documents, slots (documents x annotators per document), finished slots
  (submitted or skipped, at most k per document), documents complete, and the completion
  ratio finished / slots.
"""

import csv
import io
import statistics
from datetime import timedelta

from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import select

from annotator.choices import ASSIGNMENT_STATUSES
from annotator.choices import FINISHED_STATUSES
from annotator.extensions import db
from annotator.models import AnnotationSet
from annotator.models import Assignment
from annotator.models import Document
from annotator.models import Project
from annotator.models import ProjectMember
from annotator.models import Relation
from annotator.models import Span
from annotator.models import User
from annotator.models import now_utc

FINISHED = FINISHED_STATUSES
DAYS = 14
CSV_COLUMNS = ["annotator", "role", "active", "member", "total", *ASSIGNMENT_STATUSES, "spans",
               "median_minutes", "last_activity"]


def _median_minutes(durations: list[float]) -> float | None:
    return round(statistics.median(durations), 1) if durations else None


def project_progress(project: Project) -> dict:
    """Return the project's progress figures (see the module docstring for their meaning)."""
    pid = project.id
    k = project.per_document
    documents = db.session.scalar(select(func.count()).select_from(Document)
                                  .where(Document.project_id == pid))
    in_project = select(Document.id).where(Document.project_id == pid)

    people: dict[int, dict] = {}

    def person(user: User, member: bool) -> dict:
        entry = people.get(user.id)
        if entry is None:
            entry = people[user.id] = {
                "annotator": user.username, "role": user.role, "active": user.active, "member": member,
                "total": 0, **{status: 0 for status in ASSIGNMENT_STATUSES}, "spans": 0,
                "median_minutes": None, "last_activity": None}
        return entry

    for user in db.session.scalars(select(User).join(ProjectMember, ProjectMember.user_id == User.id)
                                   .where(ProjectMember.project_id == pid)):
        person(user, True)
    status_rows = db.session.execute(
        select(User, Assignment.status, func.count(), func.max(Assignment.updated_at))
        .join(Assignment, Assignment.user_id == User.id)
        .where(Assignment.document_id.in_(in_project))
        .group_by(User.id, Assignment.status)).all()
    for user, status, n, last in status_rows:
        entry = person(user, user.id in people and people[user.id]["member"])
        entry[status] += n
        entry["total"] += n
        if last is not None and (entry["last_activity"] is None or last > entry["last_activity"]):
            entry["last_activity"] = last
    span_rows = db.session.execute(
        select(AnnotationSet.user_id, func.count(Span.id), func.max(AnnotationSet.updated_at))
        .join(Span, Span.set_id == AnnotationSet.id)
        .where(AnnotationSet.document_id.in_(in_project), AnnotationSet.kind == "manual")
        .group_by(AnnotationSet.user_id)).all()
    for user_id, n, last in span_rows:
        if user_id in people:
            people[user_id]["spans"] = n
            if last is not None and (people[user_id]["last_activity"] is None
                                     or last > people[user_id]["last_activity"]):
                people[user_id]["last_activity"] = last

    durations: dict[int, list[float]] = {}
    daily: dict[str, int] = {}
    today = now_utc().date()
    first_day = today - timedelta(days=DAYS - 1)
    for user_id, started, finished in db.session.execute(
            select(Assignment.user_id, Assignment.started_at, Assignment.finished_at)
            .where(Assignment.document_id.in_(in_project), Assignment.status == "submitted",
                   Assignment.finished_at.is_not(None))):
        if started is not None and finished >= started:
            durations.setdefault(user_id, []).append((finished - started).total_seconds() / 60)
        day = finished.date()
        if day >= first_day:
            daily[day.isoformat()] = daily.get(day.isoformat(), 0) + 1
    for user_id, values in durations.items():
        if user_id in people:
            people[user_id]["median_minutes"] = _median_minutes(values)

    # Finished slots: submitted or skipped assignments, at most k per document.
    per_document = (select(Assignment.document_id, func.count().label("n"))
                    .where(Assignment.document_id.in_(in_project), Assignment.status.in_(FINISHED))
                    .group_by(Assignment.document_id).subquery())
    capped = case((per_document.c.n > k, k), else_=per_document.c.n)
    # int(): PostgreSQL sums integers into a Decimal.
    finished_slots = int(db.session.scalar(select(func.coalesce(func.sum(capped), 0))))
    complete = db.session.scalar(select(func.count()).select_from(per_document).where(per_document.c.n >= k))
    assigned_docs = db.session.scalar(select(func.count(func.distinct(Assignment.document_id)))
                                      .where(Assignment.document_id.in_(in_project)))
    slots = documents * k

    labels = {label["name"]: 0 for label in project.schema["labels"]}
    for label, n in db.session.execute(
            select(Span.label, func.count()).join(AnnotationSet, AnnotationSet.id == Span.set_id)
            .where(AnnotationSet.document_id.in_(in_project), AnnotationSet.kind == "manual")
            .group_by(Span.label)):
        labels[label] = n
    colors = {label["name"]: label.get("color", "#888888") for label in project.schema["labels"]}
    relations = {relation["name"]: 0 for relation in project.schema.get("relations", [])}
    for label, n in db.session.execute(
            select(Relation.label, func.count()).join(AnnotationSet, AnnotationSet.id == Relation.set_id)
            .where(AnnotationSet.document_id.in_(in_project), AnnotationSet.kind == "manual")
            .group_by(Relation.label)):
        relations[label] = n

    annotators = sorted(people.values(), key=lambda p: p["annotator"])
    for entry in annotators:
        if entry["last_activity"] is not None:
            entry["last_activity"] = entry["last_activity"].isoformat()
    status_totals = {status: sum(p[status] for p in annotators) for status in ASSIGNMENT_STATUSES}
    return {
        "project": {"id": pid, "name": project.name, "mode": project.assignment_mode, "per_document": k},
        "generated_at": now_utc().isoformat(),
        "overall": {
            "documents": documents,
            "documents_assigned": assigned_docs,
            "documents_complete": complete,
            "slots": slots,
            "finished": finished_slots,
            "completion": round(finished_slots / slots, 4) if slots else 0.0,
            **status_totals,
            "spans": sum(labels.values()),
            "median_minutes": _median_minutes([d for values in durations.values() for d in values]),
        },
        "annotators": annotators,
        "labels": [{"label": name, "color": colors.get(name, "#888888"), "spans": n}
                   for name, n in labels.items()],
        "relations": [{"label": name, "count": n} for name, n in relations.items()],
        "daily": [{"date": (first_day + timedelta(days=i)).isoformat(),
                   "submitted": daily.get((first_day + timedelta(days=i)).isoformat(), 0)}
                  for i in range(DAYS)],
    }


def overview() -> list[dict]:
    """Return every project's headline figures (documents, slots, finished, completion), by name."""
    documents = dict(db.session.execute(select(Document.project_id, func.count()).group_by(Document.project_id)).all())
    finished_rows = (select(Document.project_id.label("pid"), Assignment.document_id, func.count().label("n"))
                     .join(Document, Document.id == Assignment.document_id)
                     .where(Assignment.status.in_(FINISHED))
                     .group_by(Document.project_id, Assignment.document_id).subquery())
    rows = []
    for project in db.session.scalars(select(Project).order_by(Project.name)):
        k = project.per_document
        capped = case((finished_rows.c.n > k, k), else_=finished_rows.c.n)
        finished = int(db.session.scalar(select(func.coalesce(func.sum(capped), 0))
                                         .where(finished_rows.c.pid == project.id)))
        n = documents.get(project.id, 0)
        rows.append({"project": project, "documents": n, "slots": n * k, "finished": finished,
                     "completion": round(finished / (n * k), 4) if n else 0.0})
    return rows


def span_counts(user) -> dict[int, int]:
    """Return the user's span count per document (manual sets only), by document id."""
    rows = db.session.execute(
        select(AnnotationSet.document_id, func.count(Span.id))
        .join(Span, Span.set_id == AnnotationSet.id)
        .where(AnnotationSet.user_id == user.id, AnnotationSet.kind == "manual")
        .group_by(AnnotationSet.document_id))
    return dict(rows.all())


def progress_csv(progress: dict) -> str:
    """Return the per-annotator figures as CSV text, one row per annotator plus a total row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in progress["annotators"]:
        writer.writerow([_cell(entry[column]) for column in CSV_COLUMNS])
    overall = progress["overall"]
    writer.writerow(["(all)", "", "", "", sum(e["total"] for e in progress["annotators"]),
                     *(overall[s] for s in ASSIGNMENT_STATUSES), overall["spans"],
                     _cell(overall["median_minutes"]), ""])
    return out.getvalue()


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        # Spreadsheet apps run cells starting with these as formulas (CSV injection).
        return "'" + value
    return value
