"""Database models: typed SQLAlchemy 2 mappings and the constraints that back every rule.

The services check every rule first; the constraints here are the backstop, so that a bug, a
script or a manual fix cannot store an impossible row (a span with start >= end, a second
assignment of one annotator to one document, two spans with one client id in a set).
"""

from datetime import UTC
from datetime import datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import JSON
from sqlalchemy import CheckConstraint
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import TypeDecorator
from sqlalchemy import UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from annotator.choices import ASSIGNMENT_MODES
from annotator.choices import ASSIGNMENT_STATUSES
from annotator.choices import ROLES
from annotator.choices import SET_KINDS
from annotator.extensions import db

# JSON columns are JSONB on PostgreSQL (indexable, compact) and JSON text on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")



class UTCDateTime(TypeDecorator):
    """A moment in time: aware UTC in Python, ``timestamptz`` on PostgreSQL, and on SQLite
    naive UTC text in SQLAlchemy's one format (``2026-11-27 10:00:00.000000``).

    One format on SQLite keeps SQL comparisons and ORDER BY chronological (they compare text
    there), and aware values in Python let any two timestamps be compared. A naive value given
    to the database is taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(DateTime())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        return None if value is None else as_utc(value)


def as_utc(moment: datetime) -> datetime:
    """Return ``moment`` as an aware UTC datetime; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


TZ = UTCDateTime()

# Ids are never reused on SQLite either (AUTOINCREMENT, as a sequence does on PostgreSQL), so a
# stale DELETE /assignments/17 cannot remove a newer row that took the number.
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}



def now_utc() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class User(UserMixin, db.Model):
    __tablename__ = "user"
    __table_args__ = (CheckConstraint(_one_of("role", ROLES), name="role"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="annotator")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(TZ, default=now_utc)

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class LoginSession(db.Model):
    """A browser login. The cookie holds a random key whose hash is stored here.

    Deleting the row (logout, deactivation, password change) ends the session on every worker
    and host at once, which a signed cookie alone cannot do (docs/security.md 6 A2, A7).
    """

    __tablename__ = "login_session"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(TZ, default=now_utc)

    user: Mapped[User] = relationship(lazy="joined")


class ApiToken(db.Model):
    __tablename__ = "api_token"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(TZ, default=now_utc)
    last_used_at: Mapped[datetime | None] = mapped_column(TZ)

    user: Mapped[User] = relationship(lazy="joined")


class Project(db.Model):
    __tablename__ = "project"
    __table_args__ = (
        CheckConstraint(_one_of("assignment_mode", ASSIGNMENT_MODES), name="assignment_mode"),
        CheckConstraint("per_document >= 1", name="per_document_positive"),
        CheckConstraint("claim_timeout_minutes >= 1", name="claim_timeout_positive"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    guidelines: Mapped[str] = mapped_column(Text, default="")
    schema: Mapped[dict[str, Any]] = mapped_column(JSONType)
    schema_version: Mapped[int] = mapped_column(default=1)
    assignment_mode: Mapped[str] = mapped_column(String(16), default="static")
    per_document: Mapped[int] = mapped_column(default=1)
    claim_timeout_minutes: Mapped[int] = mapped_column(default=60)
    created_at: Mapped[datetime] = mapped_column(TZ, default=now_utc)


class ProjectMember(db.Model):
    __tablename__ = "project_member"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("project.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(TZ, default=now_utc)

    user: Mapped[User] = relationship(lazy="joined")


class Document(db.Model):
    """An article. Its text is immutable after import; annotations are anchored to its hash."""

    __tablename__ = "document"
    __table_args__ = (
        UniqueConstraint("project_id", "text_sha256"),
        UniqueConstraint("project_id", "external_id"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    tokens: Mapped[list[list[int]]] = mapped_column(JSONType, default=list)
    lang: Mapped[str] = mapped_column(String(16), default="en")
    created_at: Mapped[datetime] = mapped_column(TZ, default=now_utc)

    project: Mapped[Project] = relationship()


class Assignment(db.Model):
    __tablename__ = "assignment"
    __table_args__ = (
        UniqueConstraint("document_id", "user_id"),
        CheckConstraint(_one_of("status", ASSIGNMENT_STATUSES), name="status"),
        Index("ix_assignment_user_status", "user_id", "status"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("document.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="assigned")
    # Dynamic mode: a claim not worked on by this time returns to the pool.
    claim_expires_at: Mapped[datetime | None] = mapped_column(TZ)
    created_at: Mapped[datetime] = mapped_column(TZ, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=now_utc, onupdate=now_utc)
    started_at: Mapped[datetime | None] = mapped_column(TZ)
    finished_at: Mapped[datetime | None] = mapped_column(TZ)

    document: Mapped[Document] = relationship()
    user: Mapped[User] = relationship()


class AnnotationSet(db.Model):
    """One user's spans and relations on one document, versioned for optimistic concurrency."""

    __tablename__ = "annotation_set"
    __table_args__ = (
        UniqueConstraint("document_id", "user_id", "kind"),
        CheckConstraint(_one_of("kind", SET_KINDS), name="kind"),
        CheckConstraint("version >= 0", name="version_positive"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("document.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default="manual")
    version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(TZ, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=now_utc, onupdate=now_utc)

    document: Mapped[Document] = relationship()
    user: Mapped[User | None] = relationship()
    spans: Mapped[list["Span"]] = relationship(
        back_populates="set", order_by="(Span.start, Span.end.desc(), Span.id)",
        cascade="all, delete-orphan", passive_deletes=True,
    )
    relations: Mapped[list["Relation"]] = relationship(
        back_populates="set", order_by="Relation.id",
        cascade="all, delete-orphan", passive_deletes=True,
    )


class Span(db.Model):
    __tablename__ = "span"
    __table_args__ = (
        UniqueConstraint("set_id", "uuid"),
        CheckConstraint("start >= 0", name="start_not_negative"),
        CheckConstraint('start < "end"', name="start_before_end"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("annotation_set.id", ondelete="CASCADE"))
    uuid: Mapped[str] = mapped_column(String(64))
    start: Mapped[int]
    end: Mapped[int]
    label: Mapped[str] = mapped_column(String(64))
    attrs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZ, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=now_utc, onupdate=now_utc)

    set: Mapped[AnnotationSet] = relationship(back_populates="spans")


class Relation(db.Model):
    __tablename__ = "relation"
    __table_args__ = (UniqueConstraint("set_id", "uuid"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("annotation_set.id", ondelete="CASCADE"))
    uuid: Mapped[str] = mapped_column(String(64))
    head_id: Mapped[int] = mapped_column(ForeignKey("span.id", ondelete="CASCADE"), index=True)
    tail_id: Mapped[int] = mapped_column(ForeignKey("span.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(64))
    attrs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZ, default=now_utc)

    set: Mapped[AnnotationSet] = relationship(back_populates="relations")
    head: Mapped[Span] = relationship(foreign_keys=[head_id])
    tail: Mapped[Span] = relationship(foreign_keys=[tail_id])


class Event(db.Model):
    """The audit log: every change to users, assignments and annotations, written in the same
    transaction as the change."""

    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_document_at", "document_id", "at"),
        Index("ix_event_actor_at", "actor_id", "at"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(TZ, default=now_utc, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id", ondelete="SET NULL"))
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("document.id", ondelete="SET NULL")
    )
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    actor: Mapped[User | None] = relationship()
