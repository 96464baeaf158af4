"""Assignments: who works on which document, each annotator's queue, and dynamic claims.

Two modes per project (``Project.assignment_mode``):

- **static**: an admin assigns documents with :func:`assign_documents`. The pure planner
  :func:`plan_assignments` gives each document ``k`` distinct annotators, least-loaded first,
  ties broken by the order the annotators were named; a repeat run creates nothing new.
- **dynamic**: :func:`next_for` claims a document that still needs annotators. On PostgreSQL
  the document row is locked with ``SELECT ... FOR UPDATE SKIP LOCKED`` (concurrent callers
  take different documents instead of waiting); on SQLite the claim runs in a ``BEGIN
  IMMEDIATE`` write transaction, which serialises writers. A claim that sees no work for
  ``claim_timeout_minutes`` returns to the pool.

Unassigning deletes the assignment row only: the annotator's annotation set stays, and a later
assignment of the same person to the same document finds it again.
"""

import heapq
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta

from sqlalchemy import case
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from annotator.choices import OPEN_STATUSES
from annotator.errors import Forbidden
from annotator.errors import Invalid
from annotator.errors import NotFound
from annotator.extensions import db
from annotator.extensions import write_transaction
from annotator.models import AnnotationSet
from annotator.models import Assignment
from annotator.models import Document
from annotator.models import Project
from annotator.models import ProjectMember
from annotator.models import User
from annotator.models import now_utc
from annotator.services import audit

# Queue order: work in progress first, then new work; finished work last.
STATUS_ORDER = case(
    {"in_progress": 0, "assigned": 1, "skipped": 2, "submitted": 3}, value=Assignment.status
)


def queue_query(user, project_id: int | None = None, status: str | None = None):
    """Return the query of the user's assignments, open work first, with their documents.

    Each document comes in the same query, without its text and tokens: a queue shows names,
    not articles (one statement for the whole queue, not one per row).
    """
    query = (
        select(Assignment)
        .join(Document, Document.id == Assignment.document_id)
        .options(contains_eager(Assignment.document).load_only(
            Document.id, Document.project_id, Document.external_id))
        .where(Assignment.user_id == user.id)
        .order_by(STATUS_ORDER, Assignment.id)
    )
    if project_id is not None:
        query = query.where(Document.project_id == project_id)
    if status is not None:
        query = query.where(Assignment.status == status)
    return query


def queue_for(user, project_id: int | None = None, status: str | None = None):
    """Return the user's assignments (with their documents), open work first."""
    return db.session.scalars(queue_query(user, project_id, status)).all()


def open_loads(project_id: int) -> dict[int, int]:
    """Return each user's number of open assignments in the project, by user id."""
    return _open_loads(db.session, project_id, None)


def _open_assignment(user, project_id: int):
    return db.session.scalar(
        select(Assignment)
        .join(Document, Document.id == Assignment.document_id)
        .where(Assignment.user_id == user.id, Document.project_id == project_id,
               Assignment.status.in_(OPEN_STATUSES))
        .order_by(STATUS_ORDER, Assignment.id)
        .limit(1)
    )


def next_for(user, project) -> Document | None:
    """Return the next document for ``user`` in ``project``: in progress, else assigned.

    In dynamic mode, when the user has no open work, this claims a document that still needs
    annotators (a write); None means nothing is left.

    :raise Forbidden: in dynamic mode, when the user is not a member of the project.
    """
    if project.assignment_mode != "dynamic":
        assignment = _open_assignment(user, project.id)
        return assignment.document if assignment is not None else None
    return claim_next(user, project)


# ---------------------------------------------------------------------------------------------
# Planning (pure)


@dataclass
class Plan:
    """The result of :func:`plan_assignments`."""

    pairs: list[tuple[int, int]] = field(default_factory=list)  # (document id, user id)
    complete: int = 0  # documents that already had k annotators
    short: dict[int, int] = field(default_factory=dict)  # document id -> annotators still missing


def plan_assignments(documents: list[tuple[int, frozenset[int] | set[int]]],
                     annotators: list[tuple[int, int]], k: int) -> Plan:
    """Plan new assignments so every document reaches ``k`` distinct annotators.

    Pure and deterministic: the same input gives the same plan, and feeding the plan's result
    back in plans nothing more (idempotent on repeat).

    :param documents: ``(document id, ids of users already assigned)``, in the order to fill.
    :param annotators: ``(user id, current load)`` of the people to assign, in order of
        preference; the least-loaded goes first, ties go to the earlier one.
    :param k: annotators wanted per document. Existing assignees count towards ``k``.
    """
    plan = Plan()
    loads = {user_id: load for user_id, load in annotators}
    rank = {user_id: i for i, (user_id, _) in enumerate(annotators)}
    # A heap of (load, rank, user); popped entries whose load changed are stale and dropped.
    heap = [(load, rank[user_id], user_id) for user_id, load in annotators]
    heapq.heapify(heap)
    for document_id, assigned in documents:
        need = k - len(assigned)
        if need <= 0:
            plan.complete += 1
            continue
        chosen, set_aside = [], []
        while heap and len(chosen) < need:
            load, order, user_id = heapq.heappop(heap)
            if load != loads[user_id]:
                continue
            if user_id in assigned:
                set_aside.append((load, order, user_id))
                continue
            chosen.append(user_id)
        for user_id in chosen:
            loads[user_id] += 1
            plan.pairs.append((document_id, user_id))
            heapq.heappush(heap, (loads[user_id], rank[user_id], user_id))
        for entry in set_aside:
            heapq.heappush(heap, entry)
        if len(chosen) < need:
            plan.short[document_id] = need - len(chosen)
    return plan


# ---------------------------------------------------------------------------------------------
# Static assignment


@dataclass
class AssignReport:
    created: list[Assignment] = field(default_factory=list)
    documents: int = 0  # documents considered
    complete: int = 0  # of which already had k annotators
    short: dict[int, int] = field(default_factory=dict)
    loads: dict[str, int] = field(default_factory=dict)  # username -> open work after the run
    dry_run: bool = False
    planned: list[tuple[int, str]] = field(default_factory=list)  # (document id, username)


def _check_annotators(session, project: Project, usernames) -> list[User]:
    """Return the named users, in the given order, if each is an active project member.

    :raise Invalid: naming each unknown, inactive or non-member user.
    """
    if not isinstance(usernames, list) or not usernames:
        raise Invalid("Name at least one annotator.", {"annotators": ["Name at least one annotator."]})
    if len(set(usernames)) != len(usernames):
        raise Invalid("An annotator is named twice.", {"annotators": ["Name each annotator once."]})
    found = {u.username: u for u in session.scalars(select(User).where(User.username.in_(usernames)))}
    members = set(session.scalars(select(ProjectMember.user_id).where(
        ProjectMember.project_id == project.id)))
    problems = []
    for name in usernames:
        user = found.get(name)
        if user is None:
            problems.append(f"No user named {name!r}.")
        elif not user.active:
            problems.append(f"{name} is deactivated.")
        elif user.id not in members:
            problems.append(f"{name} is not a member of this project.")
    if problems:
        raise Invalid("Some annotators cannot be assigned.", {"annotators": problems})
    return [found[name] for name in usernames]


def _open_loads(session, project_id: int, user_ids) -> dict[int, int]:
    # Without user_ids, everyone's.
    query = (select(Assignment.user_id, func.count())
             .join(Document, Document.id == Assignment.document_id)
             .where(Document.project_id == project_id, Assignment.status.in_(OPEN_STATUSES)))
    if user_ids is not None:
        query = query.where(Assignment.user_id.in_(user_ids))
    rows = session.execute(query.group_by(Assignment.user_id)).all()
    return {user_id: n for user_id, n in rows}


def _annotated(session, pairs) -> set[tuple[int, int]]:
    """Return the (document, user) pairs among ``pairs`` that already have a manual annotation set."""
    if not pairs:
        return set()
    document_ids = {d for d, _ in pairs}
    rows = session.execute(
        select(AnnotationSet.document_id, AnnotationSet.user_id)
        .where(AnnotationSet.document_id.in_(document_ids), AnnotationSet.kind == "manual",
               AnnotationSet.version > 0)).all()
    return {(d, u) for d, u in rows} & set(pairs)


def assign_documents(project: Project, usernames: list[str], per_document: int,
                     document_ids: list[int] | None = None, *, dry_run: bool = False,
                     actor=None) -> AssignReport:
    """Assign ``per_document`` distinct annotators to each document, balanced, in one transaction.

    Without ``document_ids``, every document of the project that has fewer than
    ``per_document`` annotators is filled. Existing assignees count towards ``per_document``,
    so a repeat run creates nothing. A person who already annotated a document (and was
    unassigned) gets their work back: the new assignment starts in progress.

    :raise Invalid: for a bad ``per_document`` (below 1 or above the number of annotators), an
        unknown, inactive or non-member annotator, or a document not in this project. Nothing
        is stored then.
    """
    if type(per_document) is not int or per_document < 1:
        raise Invalid("per_document must be a whole number of at least 1.",
                      {"per_document": ["Use a whole number of at least 1."]})
    if isinstance(usernames, list) and per_document > len(usernames):
        raise Invalid(f"Cannot give each document {per_document} distinct annotators out of "
                      f"{len(usernames)}.",
                      {"per_document": [f"Must be at most the number of annotators ({len(usernames)})."]})
    if document_ids is not None:
        if not isinstance(document_ids, list) or not all(type(d) is int for d in document_ids):
            raise Invalid("documents must be a list of document ids.",
                          {"documents": ["List document ids (whole numbers)."]})
        document_ids = sorted(set(document_ids))
    report = AssignReport(dry_run=dry_run)
    with write_transaction() as session:
        # One assignment run per project at a time (SQLite: the write lock already does it).
        session.get(Project, project.id, with_for_update=True)
        annotators = _check_annotators(session, project, usernames)
        if document_ids is not None:
            found = set(session.scalars(select(Document.id).where(
                Document.project_id == project.id, Document.id.in_(document_ids))))
            unknown = [d for d in document_ids if d not in found]
            if unknown:
                shown = ", ".join(str(d) for d in unknown[:20]) + (" ..." if len(unknown) > 20 else "")
                raise Invalid(f"{len(unknown)} document(s) are not in this project.",
                              {"documents": [f"Not in this project: {shown}."]})
            targets = document_ids
        else:
            counts = (select(Assignment.document_id, func.count().label("n"))
                      .group_by(Assignment.document_id).subquery())
            targets = list(session.scalars(
                select(Document.id).outerjoin(counts, counts.c.document_id == Document.id)
                .where(Document.project_id == project.id,
                       func.coalesce(counts.c.n, 0) < per_document)
                .order_by(Document.id)))
        existing: dict[int, set[int]] = {d: set() for d in targets}
        for start in range(0, len(targets), 5000):
            chunk = targets[start:start + 5000]
            for document_id, user_id in session.execute(
                    select(Assignment.document_id, Assignment.user_id)
                    .where(Assignment.document_id.in_(chunk))):
                existing[document_id].add(user_id)
        loads = _open_loads(session, project.id, [u.id for u in annotators])
        plan = plan_assignments([(d, existing[d]) for d in targets],
                                [(u.id, loads.get(u.id, 0)) for u in annotators], per_document)
        by_id = {u.id: u for u in annotators}
        report.documents, report.complete, report.short = len(targets), plan.complete, plan.short
        report.planned = [(d, by_id[u].username) for d, u in plan.pairs]
        final = dict(loads)
        for _, user_id in plan.pairs:
            final[user_id] = final.get(user_id, 0) + 1
        report.loads = {u.username: final.get(u.id, 0) for u in annotators}
        if dry_run:
            session.rollback()
            return report
        resumed = _annotated(session, plan.pairs)
        now = now_utc()
        for document_id, user_id in plan.pairs:
            status = "in_progress" if (document_id, user_id) in resumed else "assigned"
            assignment = Assignment(document_id=document_id, user_id=user_id, status=status,
                                    started_at=now if status == "in_progress" else None)
            session.add(assignment)
            report.created.append(assignment)
        session.flush()
        for assignment in report.created:
            audit.record("assignment.create", assignment, actor=actor, project_id=project.id,
                         document_id=assignment.document_id,
                         after={"username": by_id[assignment.user_id].username, "status": assignment.status})
    return report


def get_assignment(assignment_id: int) -> Assignment:
    """Return the assignment with this id.

    :raise NotFound: when there is none.
    """
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound("Assignment not found.")
    return assignment


def unassign(assignment_id: int, actor=None) -> None:
    """Delete an assignment; the annotator's annotations stay stored.

    :raise NotFound: when there is no such assignment.
    """
    with write_transaction() as session:
        assignment = session.get(Assignment, assignment_id, with_for_update=True)
        if assignment is None:
            raise NotFound("Assignment not found.")
        audit.record("assignment.delete", assignment, actor=actor,
                     project_id=assignment.document.project_id, document_id=assignment.document_id,
                     before={"username": assignment.user.username, "status": assignment.status})
        session.delete(assignment)


def reassign(assignment_id: int, username: str, actor=None) -> Assignment:
    """Move an assignment to another annotator; the first one's annotations stay stored.

    :raise NotFound: when there is no such assignment.
    :raise Invalid: when the new annotator is unknown, inactive, not a member, or already
        assigned to the document.
    """
    with write_transaction() as session:
        old = session.get(Assignment, assignment_id, with_for_update=True)
        if old is None:
            raise NotFound("Assignment not found.")
        document = old.document
        project = session.get(Project, document.project_id)
        (user,) = _check_annotators(session, project, [username])
        if session.scalar(select(Assignment.id).where(Assignment.document_id == document.id,
                                                      Assignment.user_id == user.id)):
            raise Invalid(f"{username} is already assigned to this document.",
                          {"annotator": [f"{username} is already assigned to this document."]})
        before = {"username": old.user.username, "status": old.status}
        session.delete(old)
        session.flush()
        resumed = _annotated(session, [(document.id, user.id)])
        status = "in_progress" if resumed else "assigned"
        new = Assignment(document_id=document.id, user_id=user.id, status=status,
                         started_at=now_utc() if resumed else None)
        session.add(new)
        session.flush()
        audit.record("assignment.reassign", new, actor=actor, project_id=project.id,
                     document_id=document.id, before={**before, "assignment_id": assignment_id},
                     after={"username": username, "status": status})
    return new


# ---------------------------------------------------------------------------------------------
# Dynamic mode


def _expired_claims(project: Project, now):
    """Select open claims of ``project`` past their expiry with no annotation work since."""
    idle_since = now - timedelta(minutes=project.claim_timeout_minutes)
    recent_work = exists().where(
        AnnotationSet.document_id == Assignment.document_id, AnnotationSet.user_id == Assignment.user_id,
        AnnotationSet.updated_at > idle_since)
    return (select(Assignment)
            .join(Document, Document.id == Assignment.document_id)
            .where(Document.project_id == project.id, Assignment.status.in_(OPEN_STATUSES),
                   Assignment.claim_expires_at.is_not(None), Assignment.claim_expires_at < now,
                   ~recent_work))


def release_expired_claims(session, project: Project, now) -> int:
    """Return abandoned claims of ``project`` to the pool (in the caller's transaction).

    Rows another transaction holds are skipped (SKIP LOCKED), never waited for.
    """
    expired = session.scalars(_expired_claims(project, now)
                              .with_for_update(of=Assignment, skip_locked=True)).all()
    for assignment in expired:
        audit.record("assignment.expire", assignment, project_id=project.id,
                     document_id=assignment.document_id,
                     before={"username": assignment.user.username, "status": assignment.status,
                             "claim_expires_at": assignment.claim_expires_at.isoformat()})
        session.delete(assignment)
    return len(expired)


def claim_next(user, project: Project) -> Document | None:
    """Return the user's open document in ``project``, else claim one that needs annotators.

    Returning an open claim extends it. Documents already filling up come first (fewest
    missing annotators), then by id, so documents get finished rather than all started.

    :raise Forbidden: when the user is not a member of the project.
    """
    now = now_utc()
    expires = now + timedelta(minutes=project.claim_timeout_minutes)
    with write_transaction() as session:
        if session.get(ProjectMember, (project.id, user.id)) is None:
            raise Forbidden("Only project members can take documents from this project.")
        release_expired_claims(session, project, now)
        mine = _open_assignment(user, project.id)
        if mine is not None:
            if mine.claim_expires_at is not None:
                mine.claim_expires_at = expires
            return mine.document
        taken = (select(func.count()).select_from(Assignment)
                 .where(Assignment.document_id == Document.id).scalar_subquery())
        mine_there = exists().where(Assignment.document_id == Document.id, Assignment.user_id == user.id)
        passed: list[int] = []
        while True:
            query = (select(Document)
                     .where(Document.project_id == project.id, taken < project.per_document, ~mine_there)
                     .order_by(taken.desc(), Document.id).limit(1)
                     .with_for_update(of=Document, skip_locked=True))
            if passed:
                query = query.where(Document.id.not_in(passed))
            document = session.scalar(query)
            if document is None:
                return None
            # We hold the document's lock now, so every claim committed before is visible to a
            # fresh count; the count in the query above may predate a claim that just committed.
            filled = session.scalar(select(func.count()).select_from(Assignment)
                                    .where(Assignment.document_id == document.id))
            if filled < project.per_document:
                break
            passed.append(document.id)
        resumed = _annotated(session, [(document.id, user.id)])
        assignment = Assignment(document_id=document.id, user_id=user.id,
                                status="in_progress" if resumed else "assigned",
                                started_at=now if resumed else None, claim_expires_at=expires)
        session.add(assignment)
        session.flush()
        audit.record("assignment.claim", assignment, actor=user, project_id=project.id,
                     document_id=document.id,
                     after={"username": user.username, "claim_expires_at": expires.isoformat()})
    return document
