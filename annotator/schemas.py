"""Marshmallow schemas: the shape of what the API takes (``*In``) and gives (``*Out``).

Shape only: types, required fields, allowed values. No database access and no current user
here; the services check the rules that need state. Unknown fields are refused (RAISE, the
marshmallow default), and server-owned fields are ``dump_only``.
"""

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import pre_load
from marshmallow import validate

from annotator.models import ASSIGNMENT_MODES
from annotator.models import ASSIGNMENT_STATUSES
from annotator.models import ROLES


class TokenIn(Schema):
    username = fields.String(required=True, validate=validate.Length(max=64))
    password = fields.String(required=True, validate=validate.Length(max=1024))
    name = fields.String(load_default="", validate=validate.Length(max=100))


class TokenOut(Schema):
    token = fields.String()


class UserOut(Schema):
    id = fields.Integer(dump_only=True)
    username = fields.String()
    role = fields.String()
    active = fields.Boolean()
    created_at = fields.DateTime(dump_only=True)


class MeOut(Schema):
    username = fields.String()
    role = fields.String()


class UserIn(Schema):
    username = fields.String(required=True)
    password = fields.String(required=True, load_only=True)
    role = fields.String(load_default="annotator", validate=validate.OneOf(ROLES))


class UserPatch(Schema):
    role = fields.String(validate=validate.OneOf(ROLES))
    active = fields.Boolean()
    password = fields.String(load_only=True)


class PageQuery(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


# --- Projects, members, assignments, progress (issue 5) ---------------------------------------


class AssignmentSettings(Schema):
    mode = fields.String(validate=validate.OneOf(ASSIGNMENT_MODES))
    per_document = fields.Integer(strict=True)
    claim_timeout_minutes = fields.Integer(strict=True)


class ProjectIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    guidelines = fields.String(load_default="")
    schema = fields.Dict(load_default=None, allow_none=True)
    assignment = fields.Nested(AssignmentSettings, load_default=None, allow_none=True)


class ProjectPatch(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    guidelines = fields.String()
    schema = fields.Dict()
    assignment = fields.Nested(AssignmentSettings)


class ProjectOut(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String()
    guidelines = fields.String()
    schema = fields.Dict()
    schema_version = fields.Integer()
    assignment = fields.Function(lambda p: {"mode": p.assignment_mode, "per_document": p.per_document,
                                            "claim_timeout_minutes": p.claim_timeout_minutes})
    created_at = fields.DateTime(dump_only=True)


class MembersIn(Schema):
    usernames = fields.List(fields.String(validate=validate.Length(max=64)), required=True,
                            validate=validate.Length(min=1, max=1000))


class MemberOut(Schema):
    username = fields.String()
    role = fields.String()
    active = fields.Boolean()


class AssignIn(Schema):
    annotators = fields.List(fields.String(validate=validate.Length(max=64)), required=True,
                             validate=validate.Length(min=1, max=1000))
    per_document = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    documents = fields.List(fields.Integer(strict=True), validate=validate.Length(min=1, max=100_000))
    dry_run = fields.Boolean(load_default=False)


class AssignmentOut(Schema):
    id = fields.Integer()
    document_id = fields.Integer()
    project_id = fields.Function(lambda a: a.document.project_id)
    annotator = fields.Function(lambda a: a.user.username)
    status = fields.String()
    claim_expires_at = fields.DateTime()
    started_at = fields.DateTime()
    finished_at = fields.DateTime()
    updated_at = fields.DateTime()


class CreatedAssignmentOut(Schema):
    # No project_id here: it would load each document (one query per row on big runs).
    id = fields.Integer()
    document_id = fields.Integer()
    annotator = fields.Function(lambda a: a.user.username)
    status = fields.String()


class AssignOut(Schema):
    created = fields.Function(lambda r: len(r.created))
    assignments = fields.List(fields.Nested(CreatedAssignmentOut), attribute="created")
    planned = fields.Function(lambda r: [{"document_id": d, "annotator": u} for d, u in r.planned])
    documents = fields.Integer()
    complete = fields.Integer()
    short = fields.Function(lambda r: {str(d): n for d, n in r.short.items()})
    loads = fields.Dict(keys=fields.String(), values=fields.Integer())
    dry_run = fields.Boolean()


class ReassignIn(Schema):
    annotator = fields.String(required=True, validate=validate.Length(min=1, max=64))


class MyAssignmentsQuery(Schema):
    project = fields.Integer()
    status = fields.String(validate=validate.OneOf(ASSIGNMENT_STATUSES))


class ProjectAssignmentsQuery(Schema):
    annotator = fields.String(validate=validate.Length(max=64))
    status = fields.String(validate=validate.OneOf(ASSIGNMENT_STATUSES))
    document = fields.Integer()


# Token offsets are dumped as stored: validating 2 x 300 integers per document cost 0.5 ms a
# response for data the server made itself. The OpenAPI document still gives their shape.
TOKENS = fields.Raw(metadata={"type": "array", "description": "[[start, end], ...] in code points",
                              "items": {"type": "array", "items": {"type": "integer"}}})


class NextDocumentOut(Schema):
    id = fields.Integer()
    external_id = fields.String(allow_none=True)
    text = fields.String()
    text_sha256 = fields.String()
    meta = fields.Dict()
    lang = fields.String()
    tokens = TOKENS


class ProgressOut(Schema):
    project = fields.Dict()
    generated_at = fields.String()
    overall = fields.Dict()
    annotators = fields.List(fields.Dict())
    labels = fields.List(fields.Dict())
    relations = fields.List(fields.Dict())
    daily = fields.List(fields.Dict())


# --- annotations (issue 4) -------------------------------------------------------------------

# Client ids are uuids in practice; any short token of these characters is accepted.
CLIENT_ID = validate.Regexp(r"^[A-Za-z0-9_.:-]{1,64}$", error="Use 1-64 letters, digits, '-', '_', '.' or ':'.")
OFFSET = validate.Range(min=0, max=2**31 - 1)
MAX_BULK_ITEMS = 20_000


class SpanIn(Schema):
    id = fields.String(validate=CLIENT_ID)
    start = fields.Integer(required=True, strict=True, validate=OFFSET)
    end = fields.Integer(required=True, strict=True, validate=OFFSET)
    label = fields.String(required=True, validate=validate.Length(min=1, max=64))
    attrs = fields.Dict(keys=fields.String(validate=validate.Length(max=64)), load_default=dict)
    text = fields.String(validate=validate.Length(max=1_000_000))


class SpanPatch(Schema):
    start = fields.Integer(strict=True, validate=OFFSET)
    end = fields.Integer(strict=True, validate=OFFSET)
    label = fields.String(validate=validate.Length(min=1, max=64))
    attrs = fields.Dict(keys=fields.String(validate=validate.Length(max=64)))
    text = fields.String(validate=validate.Length(max=1_000_000))


class SpanOut(Schema):
    id = fields.String()
    start = fields.Integer()
    end = fields.Integer()
    label = fields.String()
    attrs = fields.Dict()
    text = fields.String()


class SpanWriteOut(SpanOut):
    version = fields.Integer()


class RelationIn(Schema):
    id = fields.String(validate=CLIENT_ID)
    head = fields.String(required=True, validate=validate.Length(min=1, max=64))
    tail = fields.String(required=True, validate=validate.Length(min=1, max=64))
    label = fields.String(required=True, validate=validate.Length(min=1, max=64))
    attrs = fields.Dict(keys=fields.String(validate=validate.Length(max=64)), load_default=dict)


class RelationOut(Schema):
    id = fields.String()
    head = fields.String()
    tail = fields.String()
    label = fields.String()
    attrs = fields.Dict()


class RelationWriteOut(RelationOut):
    version = fields.Integer()


class DeletedOut(Schema):
    version = fields.Integer()
    deleted_relations = fields.List(fields.String())


class AnnotationsQuery(Schema):
    annotator = fields.String(validate=validate.Length(min=1, max=64))


class AnnotationsOut(Schema):
    document_id = fields.Integer()
    annotator = fields.String()
    status = fields.String(allow_none=True)
    version = fields.Integer()
    spans = fields.List(fields.Nested(SpanOut))
    relations = fields.List(fields.Nested(RelationOut))


class AnnotationsPut(Schema):
    spans = fields.List(fields.Nested(SpanIn), required=True)
    relations = fields.List(fields.Nested(RelationIn), load_default=list)

    @pre_load
    def check_size(self, data, **kwargs):
        """Refuse oversized lists before deserialising a million items one by one."""
        if isinstance(data, dict):
            for name in ("spans", "relations"):
                items = data.get(name)
                if isinstance(items, list) and len(items) > MAX_BULK_ITEMS:
                    raise ValidationError(f"At most {MAX_BULK_ITEMS:,} items.", name)
        return data


class StatusIn(Schema):
    status = fields.String(required=True, validate=validate.OneOf(("in_progress", "submitted", "skipped")))


class StatusOut(Schema):
    status = fields.String()
    version = fields.Integer()


# --- Export (issue 6) ---------------------------------------------------------------------------


class CommaList(fields.List):
    """A query list given as repeated parameters, comma-separated values, or both."""

    def _deserialize(self, value, attr, data, **kwargs):
        items = value if isinstance(value, list) else [value]
        parts = [part.strip() for item in items for part in (item.split(",") if isinstance(item, str) else [item])]
        return super()._deserialize([p for p in parts if p != ""], attr, data, **kwargs)


class ExportQuery(Schema):
    format = fields.String(load_default="jsonl", validate=validate.OneOf(("jsonl", "conll", "spacy")))
    status = CommaList(fields.String(validate=validate.OneOf(ASSIGNMENT_STATUSES)))
    annotator = CommaList(fields.String(validate=validate.Length(min=1, max=64)))
    document = CommaList(fields.Integer())
    updated_since = fields.DateTime()
    split = fields.String(validate=validate.Length(max=20))
    seed = fields.Integer(validate=validate.Range(min=0, max=2**31 - 1))

    @pre_load
    def drop_empty(self, data, **kwargs):
        """Treat an empty form field (``?updated_since=``) as an absent one."""
        return {key: value for key, value in data.items() if value not in ("", [], [""])}


class ExportSummaryOut(Schema):
    records = fields.Integer()
    documents = fields.Integer()
    spans = fields.Integer()
    relations = fields.Integer()
    splits = fields.Dict(keys=fields.String(), values=fields.Integer())


# Documents and imports (DESIGN.md section 5) -------------------------------------------------

IMPORT_FORMATS = ("jsonl", "json", "txt", "html", "csv", "zip")
DOCUMENT_STATUSES = ("assigned", "in_progress", "submitted", "skipped", "unassigned")


class DocumentOut(Schema):
    id = fields.Integer(dump_only=True)
    project_id = fields.Integer(dump_only=True)
    external_id = fields.String(allow_none=True)
    text = fields.String()
    text_sha256 = fields.String()
    meta = fields.Dict()
    lang = fields.String()
    tokens = TOKENS
    created_at = fields.DateTime(dump_only=True)


class DocumentAssignmentOut(Schema):
    annotator = fields.String()
    status = fields.String()


class DocumentSummaryOut(Schema):
    """A document in a list: everything but its text and tokens."""

    id = fields.Integer(dump_only=True)
    external_id = fields.String(allow_none=True)
    text_sha256 = fields.String()
    lang = fields.String()
    meta = fields.Dict()
    chars = fields.Integer()
    created_at = fields.DateTime(dump_only=True)
    assignments = fields.List(fields.Nested(DocumentAssignmentOut))


class DocumentQuery(Schema):
    status = fields.String(validate=validate.OneOf(DOCUMENT_STATUSES))
    annotator = fields.String(validate=validate.Length(min=1, max=64))
    q = fields.String(validate=validate.Length(max=200))


class ImportOptions(Schema):
    """Options of an import, in a JSON body or as multipart form fields."""

    as_user = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    clean = fields.Boolean(load_default=False)
    skip_invalid = fields.Boolean(load_default=False)
    suggestions = fields.Boolean(load_default=False)


class ImportJsonIn(ImportOptions):
    # Records are checked one by one by the import, which reports errors by record number.
    documents = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1))


class ImportFormIn(ImportOptions):
    format = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(IMPORT_FORMATS))
    text_column = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class ImportErrorOut(Schema):
    line = fields.Integer()
    file = fields.String()
    message = fields.String()


class ImportDuplicateOut(Schema):
    line = fields.Integer()
    file = fields.String()
    external_id = fields.String(allow_none=True)
    document_id = fields.Integer(allow_none=True)


class ImportReportOut(Schema):
    created = fields.Integer()
    duplicates = fields.List(fields.Nested(ImportDuplicateOut))
    duplicate_count = fields.Integer()
    document_ids = fields.List(fields.Integer())
    annotation_sets = fields.Integer()
    errors = fields.List(fields.Nested(ImportErrorOut))
    error_count = fields.Integer()
    records = fields.Integer()
