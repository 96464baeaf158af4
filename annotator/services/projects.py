"""Projects: their settings, label schema and members.

A schema edit is checked twice: :func:`~annotator.services.schema.validate_schema` checks the
schema on its own, and :func:`find_schema_orphans` checks it against the annotations already
stored. A change that would leave stored spans or relations without a meaning (a removed
label, attribute, enum value or relation type still in use) is refused with the list of
what it would orphan, so no annotation ever points at a schema entry that is gone.
"""

import copy

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from annotator.choices import ASSIGNMENT_MODES
from annotator.choices import OPEN_STATUSES
from annotator.errors import Conflict
from annotator.errors import Invalid
from annotator.errors import NotFound
from annotator.extensions import db
from annotator.extensions import write_transaction
from annotator.models import AnnotationSet
from annotator.models import Assignment
from annotator.models import Document
from annotator.models import Project
from annotator.models import ProjectMember
from annotator.models import Relation
from annotator.models import Span
from annotator.models import User
from annotator.services import audit
from annotator.services.access import sees_everything
from annotator.services.schema import default_schema
from annotator.services.schema import validate_schema
from annotator.validation import as_id

MAX_PER_DOCUMENT = 50
MAX_CLAIM_TIMEOUT = 7 * 24 * 60
MAX_GUIDELINES = 200_000
# Raw HTML in guidelines is shown as text; markdown-it also refuses javascript: links.
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


def render_guidelines(markdown: str) -> Markup:
    """Return the guidelines as safe HTML: markdown without raw HTML, sanitised by nh3."""
    return Markup(nh3.clean(_markdown.render(markdown or "")))


def get_project(ref) -> Project:
    """Return the project with id or name ``ref``.

    :raise NotFound: when there is none.
    """
    project = None
    if as_id(ref) is not None:
        project = db.session.get(Project, as_id(ref))
    if project is None and isinstance(ref, str):
        project = db.session.scalar(select(Project).where(Project.name == ref))
    if project is None:
        raise NotFound(f"No project {ref!r}.")
    return project


def _visible_query(user):
    query = select(Project)
    if not sees_everything(user):
        query = query.join(ProjectMember, ProjectMember.project_id == Project.id).where(
            ProjectMember.user_id == user.id)
    return query


def list_projects(user, *, offset: int, limit: int) -> tuple[list[Project], int]:
    """Return a page of the projects ``user`` may see, by name, and how many there are (the API's list)."""
    query = _visible_query(user)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    return db.session.scalars(query.order_by(Project.name).offset(offset).limit(limit)).all(), total


def visible_projects(user) -> list[Project]:
    """Return every project ``user`` may see (annotators: those they belong to), by name."""
    return db.session.scalars(_visible_query(user).order_by(Project.name)).all()


def all_projects() -> list[Project]:
    """Return every project, by name (the admin pages' lists and pickers)."""
    return db.session.scalars(select(Project).order_by(Project.name)).all()


def member_counts() -> dict[int, int]:
    """Return the number of members of each project that has any, by project id."""
    return dict(db.session.execute(select(ProjectMember.project_id, func.count())
                                   .group_by(ProjectMember.project_id)).all())


def memberships() -> dict[int, list[str]]:
    """Return the names of the projects each user belongs to, by user id (names sorted)."""
    found: dict[int, list[str]] = {}
    for user_id, name in db.session.execute(
            select(ProjectMember.user_id, Project.name).join(Project, Project.id == ProjectMember.project_id)
            .order_by(Project.name)):
        found.setdefault(user_id, []).append(name)
    return found


def project_ids_of(user: User) -> set[int]:
    """Return the ids of the projects ``user`` belongs to."""
    return set(db.session.scalars(select(ProjectMember.project_id).where(ProjectMember.user_id == user.id)))


def _name_errors(name) -> list[str]:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        return ["Use 1-200 characters."]
    return []


def assignment_errors(assignment) -> dict[str, list[str]]:
    """Return field errors for assignment settings ``{mode, per_document, claim_timeout_minutes}``."""
    if not isinstance(assignment, dict):
        return {"assignment": ["Must be an object."]}
    errors = {}
    for key in sorted(set(assignment) - {"mode", "per_document", "claim_timeout_minutes"}):
        errors[f"assignment.{key}"] = ["Unknown field."]
    if "mode" in assignment and assignment["mode"] not in ASSIGNMENT_MODES:
        errors["assignment.mode"] = [f"Must be one of: {', '.join(ASSIGNMENT_MODES)}."]
    k = assignment.get("per_document", 1)
    if type(k) is not int or not 1 <= k <= MAX_PER_DOCUMENT:
        errors["assignment.per_document"] = [f"Use a whole number from 1 to {MAX_PER_DOCUMENT}."]
    timeout = assignment.get("claim_timeout_minutes", 60)
    if type(timeout) is not int or not 1 <= timeout <= MAX_CLAIM_TIMEOUT:
        errors["assignment.claim_timeout_minutes"] = [f"Use a whole number from 1 to {MAX_CLAIM_TIMEOUT}."]
    return errors


def assignment_settings(project: Project) -> dict:
    """Return a project's assignment settings in the API's shape."""
    return {"mode": project.assignment_mode, "per_document": project.per_document,
            "claim_timeout_minutes": project.claim_timeout_minutes}


def create_project(name: str, guidelines: str = "", schema: dict | None = None, *,
                   assignment: dict | None = None, actor=None) -> Project:
    """Create a project; its schema defaults to the conflict scheme.

    :raise Invalid: for an empty name, bad assignment settings or an invalid schema.
    :raise Conflict: when the name is taken.
    """
    errors = {}
    if problems := _name_errors(name):
        errors["name"] = problems
    if guidelines is not None and (not isinstance(guidelines, str) or len(guidelines) > MAX_GUIDELINES):
        errors["guidelines"] = [f"Use at most {MAX_GUIDELINES:,} characters of markdown."]
    assignment = assignment or {}
    errors.update(assignment_errors(assignment))
    if errors:
        raise Invalid("The project is not valid.", errors)
    name = name.strip()
    schema = validate_schema(copy.deepcopy(schema)) if schema is not None else default_schema()
    with write_transaction() as session:
        if session.scalar(select(Project.id).where(Project.name == name)):
            raise Conflict(f"A project named {name!r} exists.", {"name": ["Already taken."]})
        project = Project(name=name, guidelines=guidelines or "", schema=schema,
                          assignment_mode=assignment.get("mode", "static"),
                          per_document=assignment.get("per_document", 1),
                          claim_timeout_minutes=assignment.get("claim_timeout_minutes", 60))
        session.add(project)
        session.flush()
        audit.record("project.create", project, actor=actor, project_id=project.id,
                     after={"name": name, "assignment": assignment_settings(project)})
    return project


def update_project(project: Project, *, name=None, guidelines=None, schema=None, assignment=None,
                   actor=None) -> Project:
    """Change a project's name, guidelines, schema or assignment settings (only those given).

    A new schema bumps ``schema_version``; it is refused when it would orphan stored
    annotations (see :func:`find_schema_orphans`).

    :raise Invalid: for a bad name, bad assignment settings or an invalid schema.
    :raise Conflict: when the name is taken, or the schema would orphan annotations (the
        ``errors["schema"]`` list names each orphan).
    """
    errors = {}
    if name is not None and (problems := _name_errors(name)):
        errors["name"] = problems
    if guidelines is not None and (not isinstance(guidelines, str) or len(guidelines) > MAX_GUIDELINES):
        errors["guidelines"] = [f"Use at most {MAX_GUIDELINES:,} characters of markdown."]
    if assignment is not None:
        errors.update(assignment_errors(assignment))
    if errors:
        raise Invalid("The change is not valid.", errors)
    if schema is not None:
        schema = validate_schema(copy.deepcopy(schema))
    with write_transaction() as session:
        project = session.get(Project, project.id, with_for_update=True)
        if project is None:
            raise NotFound("Project not found.")
        before, after = {}, {}
        if name is not None and name.strip() != project.name:
            name = name.strip()
            taken = session.scalar(select(Project.id).where(Project.name == name, Project.id != project.id))
            if taken:
                raise Conflict(f"A project named {name!r} exists.", {"name": ["Already taken."]})
            before["name"], after["name"] = project.name, name
            project.name = name
        if guidelines is not None and guidelines != project.guidelines:
            before["guidelines_chars"], after["guidelines_chars"] = len(project.guidelines), len(guidelines)
            project.guidelines = guidelines
        if assignment is not None:
            old = assignment_settings(project)
            project.assignment_mode = assignment.get("mode", project.assignment_mode)
            project.per_document = assignment.get("per_document", project.per_document)
            project.claim_timeout_minutes = assignment.get("claim_timeout_minutes",
                                                           project.claim_timeout_minutes)
            new = assignment_settings(project)
            if new != old:
                before["assignment"], after["assignment"] = old, new
        if schema is not None and schema != project.schema:
            orphans = find_schema_orphans(project.id, schema)
            if orphans:
                raise Conflict(f"The new schema would orphan annotations in {len(orphans)} way(s); "
                               "change or delete those annotations first.", {"schema": orphans})
            before["schema_version"] = project.schema_version
            project.schema = schema
            project.schema_version += 1
            after["schema_version"] = project.schema_version
        if after:
            audit.record("project.update", project, actor=actor, project_id=project.id,
                         before=before, after=after)
    return project


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def find_schema_orphans(project_id: int, schema: dict) -> list[str]:
    """Return what stored annotations of the project ``schema`` would leave without a meaning.

    Checked: span labels, attribute names, enum values and attribute types, relation types,
    and the head and tail labels relation types allow. Each entry is one sentence for people.
    """
    labels = {label["name"]: label for label in schema["labels"]}
    relations = {relation["name"]: relation for relation in schema.get("relations", [])}
    orphans = []
    in_project = (select(AnnotationSet.id).join(Document, Document.id == AnnotationSet.document_id)
                  .where(Document.project_id == project_id))
    counts = db.session.execute(
        select(Span.label, func.count()).where(Span.set_id.in_(in_project)).group_by(Span.label)
        .order_by(Span.label)).all()
    for label, n in counts:
        if label not in labels:
            orphans.append(f"Label {label} is used by {_plural(n, 'span')}.")
    # Attribute values need a look at each span's attrs; only spans with attributes are read.
    used: dict[tuple[str, str], dict] = {}
    rows = db.session.execute(select(Span.label, Span.attrs).where(Span.set_id.in_(in_project))
                              .execution_options(yield_per=2000))
    for label, attrs in rows:
        if label not in labels or not attrs:
            continue
        for attr_name, value in attrs.items():
            if value is None:
                continue
            entry = used.setdefault((label, attr_name), {"spans": 0, "values": {}})
            entry["spans"] += 1
            key = value if isinstance(value, str) else repr(value)
            entry["values"][key] = entry["values"].get(key, 0) + 1
            entry.setdefault("types", set()).add(type(value).__name__)
    for (label, attr_name), entry in sorted(used.items()):
        spec = {a["name"]: a for a in labels[label]["attributes"]}.get(attr_name)
        if spec is None:
            orphans.append(f"Attribute {label}.{attr_name} is set on {_plural(entry['spans'], 'span')}.")
            continue
        kind = spec["type"]
        if kind == "enum":
            for value, n in sorted(entry["values"].items()):
                if value not in spec["values"]:
                    orphans.append(f"Value {value!r} of {label}.{attr_name} is used by {_plural(n, 'span')}.")
        else:
            expected = {"integer": {"int"}, "boolean": {"bool"}, "text": {"str"}}[kind]
            if not entry["types"] <= expected:
                orphans.append(f"Attribute {label}.{attr_name} cannot become {kind}: "
                               f"{_plural(entry['spans'], 'span')} hold other values.")
    head, tail = aliased(Span), aliased(Span)
    rel_counts = db.session.execute(
        select(Relation.label, head.label, tail.label, func.count())
        .join(head, head.id == Relation.head_id).join(tail, tail.id == Relation.tail_id)
        .where(Relation.set_id.in_(in_project))
        .group_by(Relation.label, head.label, tail.label)
        .order_by(Relation.label, head.label, tail.label)).all()
    for rel_label, head_label, tail_label, n in rel_counts:
        spec = relations.get(rel_label)
        if spec is None:
            orphans.append(f"Relation type {rel_label} is used by {_plural(n, 'relation')}.")
        elif head_label not in spec["head"] or tail_label not in spec["tail"]:
            orphans.append(f"Relation type {rel_label} would no longer allow {head_label} → {tail_label} "
                           f"({_plural(n, 'relation')}).")
    return orphans


def list_members(project: Project) -> list[User]:
    """Return the project's members, by username."""
    return db.session.scalars(
        select(User).join(ProjectMember, ProjectMember.user_id == User.id)
        .where(ProjectMember.project_id == project.id).order_by(User.username)).all()


def add_members(project: Project, usernames: list[str], actor=None) -> list[User]:
    """Add users to a project (idempotent) and return them.

    :raise Invalid: naming the usernames that do not exist.
    """
    with write_transaction() as session:
        found = session.scalars(select(User).where(User.username.in_(usernames))).all()
        missing = sorted(set(usernames) - {u.username for u in found})
        if missing:
            raise Invalid("Unknown users.", {"usernames": [f"No user named {m!r}." for m in missing]})
        added = _insert_members(session, [(project.id, user.id) for user in found])
        for user in found:
            if (project.id, user.id) in added:
                audit.record("member.add", project, actor=actor, project_id=project.id,
                             after={"username": user.username})
    return list(found)


def _insert_members(session, pairs: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """Insert the ``(project_id, user_id)`` memberships not stored yet; return those inserted.

    ``ON CONFLICT DO NOTHING``: a concurrent request adding the same member waits for the
    other's commit and then skips the row, instead of failing on the primary key (the checks
    before an insert cannot see a row another transaction has not committed yet).
    """
    if not pairs:
        return set()
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = ProjectMember.__table__
    rows = session.execute(
        insert(table).values([{"project_id": p, "user_id": u} for p, u in dict.fromkeys(pairs)])
        .on_conflict_do_nothing(index_elements=[table.c.project_id, table.c.user_id])
        .returning(table.c.project_id, table.c.user_id))
    return {tuple(row) for row in rows}


def _remove_member(session, project: Project, user: User, member: ProjectMember, actor) -> int:
    open_work = session.scalars(
        select(Assignment).join(Document, Document.id == Assignment.document_id)
        .where(Document.project_id == project.id, Assignment.user_id == user.id,
               Assignment.status.in_(OPEN_STATUSES))).all()
    for assignment in open_work:
        audit.record("assignment.delete", assignment, actor=actor, project_id=project.id,
                     document_id=assignment.document_id,
                     before={"username": user.username, "status": assignment.status},
                     after={"reason": "member removed"})
    if open_work:
        session.execute(delete(Assignment).where(Assignment.id.in_([a.id for a in open_work])))
    session.delete(member)
    audit.record("member.remove", project, actor=actor, project_id=project.id,
                 before={"username": user.username}, after={"unassigned": len(open_work)})
    return len(open_work)


def remove_member(project: Project, username: str, actor=None) -> int:
    """Remove a user from a project and return how many open assignments went back to the pool.

    Open work (assigned, in progress) is unassigned so others can take it; the user's
    annotations stay stored, and finished work (submitted, skipped) stays assigned so it
    remains part of the dataset.

    :raise NotFound: when the user does not exist or is not a member.
    """
    with write_transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        member = session.get(ProjectMember, (project.id, user.id)) if user is not None else None
        if member is None:
            raise NotFound(f"{username!r} is not a member of this project.")
        return _remove_member(session, project, user, member, actor)


def set_user_projects(username: str, project_ids: list[int], actor=None) -> tuple[int, int]:
    """Make ``username`` a member of exactly ``project_ids``; return (added, removed).

    Leaving a project returns the user's open work there to the pool (see :func:`remove_member`).

    :raise NotFound: when the user does not exist.
    :raise Invalid: naming project ids that do not exist.
    """
    wanted = set(project_ids)
    with write_transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"No user named {username!r}.")
        known = {p.id: p for p in session.scalars(select(Project).where(Project.id.in_(wanted)))}
        if unknown := sorted(wanted - set(known)):
            raise Invalid("Unknown projects.", {"projects": [f"No project {pid}." for pid in unknown]})
        current = {m.project_id: m for m in session.scalars(
            select(ProjectMember).where(ProjectMember.user_id == user.id))}
        removed = 0
        inserted = _insert_members(session, [(pid, user.id) for pid in sorted(wanted - set(current))])
        for pid, _ in sorted(inserted):
            audit.record("member.add", known[pid], actor=actor, project_id=pid, after={"username": username})
        added = len(inserted)
        for pid in sorted(set(current) - wanted):
            _remove_member(session, session.get(Project, pid), user, current[pid], actor)
            removed += 1
    return added, removed
