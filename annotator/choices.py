"""One vocabulary: every closed set of words the service stores, takes or offers.

Models build their CHECK constraints from these, schemas their ``OneOf``, the CLI its
``Choice``, templates and the workspace payload their lists. A ``StrEnum`` member is its own
string (``AssignmentStatus.SUBMITTED == "submitted"``), so rows, JSON and comparisons with
plain strings all keep working; the tuples below give each set's plain strings in order.
"""

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    REVIEWER = "reviewer"
    ANNOTATOR = "annotator"


class AssignmentStatus(StrEnum):
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    SKIPPED = "skipped"


class SetKind(StrEnum):
    MANUAL = "manual"
    SUGGESTION = "suggestion"
    GOLD = "gold"


class AssignmentMode(StrEnum):
    STATIC = "static"
    DYNAMIC = "dynamic"


class AttributeType(StrEnum):
    ENUM = "enum"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    TEXT = "text"


class OverlapPolicy(StrEnum):
    """How spans of one set may overlap: nest (contain, never cross), none, or any."""

    NEST = "nest"
    NONE = "none"
    ANY = "any"


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CONLL = "conll"
    SPACY = "spacy"


class ImportFormat(StrEnum):
    JSONL = "jsonl"
    JSON = "json"
    TXT = "txt"
    HTML = "html"
    CSV = "csv"
    ZIP = "zip"


def values(choices: type[StrEnum]) -> tuple[str, ...]:
    """Return the plain strings of ``choices``, in order (click and SQL want plain strings)."""
    return tuple(member.value for member in choices)


ROLES = values(Role)
ASSIGNMENT_STATUSES = values(AssignmentStatus)
# Work that is done, one way or the other; what is still open.
FINISHED_STATUSES = (AssignmentStatus.SUBMITTED.value, AssignmentStatus.SKIPPED.value)
OPEN_STATUSES = (AssignmentStatus.ASSIGNED.value, AssignmentStatus.IN_PROGRESS.value)
# A document's status in lists: an assignment's, or none at all yet.
DOCUMENT_STATUSES = (*ASSIGNMENT_STATUSES, "unassigned")
SET_KINDS = values(SetKind)
ASSIGNMENT_MODES = values(AssignmentMode)
ATTRIBUTE_TYPES = values(AttributeType)
OVERLAP_POLICIES = values(OverlapPolicy)
# The label palette's keys.
HOTKEYS = tuple("123456789")
EXPORT_FORMATS = values(ExportFormat)
IMPORT_FORMATS = values(ImportFormat)
