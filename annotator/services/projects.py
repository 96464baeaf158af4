"""Projects and their members."""

from sqlalchemy import select

from annotator.errors import Conflict
from annotator.errors import Invalid
from annotator.errors import NotFound
from annotator.extensions import db
from annotator.extensions import write_transaction
from annotator.models import Project
from annotator.models import ProjectMember
from annotator.models import User
from annotator.services import audit
from annotator.services.schema import default_schema
from annotator.services.schema import validate_schema


def get_project(ref) -> Project:
    """Return the project with id or name ``ref``.

    :raise NotFound: when there is none.
    """
    project = None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        project = db.session.get(Project, int(ref))
    if project is None and isinstance(ref, str):
        project = db.session.scalar(select(Project).where(Project.name == ref))
    if project is None:
        raise NotFound(f"No project {ref!r}.")
    return project


def create_project(name: str, guidelines: str = "", schema: dict | None = None, *,
                   assignment: dict | None = None, actor=None) -> Project:
    """Create a project; its schema defaults to the conflict scheme.

    :raise Invalid: for an empty name or an invalid schema.
    :raise Conflict: when the name is taken.
    """
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise Invalid("The project is not valid.", {"name": ["Use 1-200 characters."]})
    schema = validate_schema(schema) if schema is not None else default_schema()
    assignment = assignment or {}
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
                     after={"name": name})
    return project


def add_members(project: Project, usernames: list[str], actor=None) -> list[User]:
    """Add users to a project (idempotent) and return them.

    :raise Invalid: naming the usernames that do not exist.
    """
    with write_transaction() as session:
        found = session.scalars(select(User).where(User.username.in_(usernames))).all()
        missing = sorted(set(usernames) - {u.username for u in found})
        if missing:
            raise Invalid("Unknown users.", {"usernames": [f"No user named {m!r}." for m in missing]})
        for user in found:
            if session.get(ProjectMember, (project.id, user.id)) is None:
                session.add(ProjectMember(project_id=project.id, user_id=user.id))
                audit.record("member.add", project, actor=actor, project_id=project.id,
                             after={"username": user.username})
    return list(found)
