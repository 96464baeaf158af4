"""Marshmallow schemas: the shape of what the API takes (``*In``) and gives (``*Out``).

Shape only: types, required fields, allowed values. No database access and no current user
here; the services check the rules that need state. Unknown fields are refused (RAISE, the
marshmallow default), and server-owned fields are ``dump_only``.
"""

from collections import Counter

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import pre_load
from marshmallow import validate
from marshmallow import validates_schema

from annotator.errors import flat_errors
from annotator.models import ASSIGNMENT_MODES
from annotator.models import ASSIGNMENT_STATUSES
from annotator.models import ROLES
from annotator.models import as_utc
from annotator.services.projects import MAX_CLAIM_TIMEOUT
from annotator.services.projects import MAX_GUIDELINES
from annotator.services.projects import MAX_PER_DOCUMENT
from annotator.services.schema import ATTRIBUTE_TYPES
from annotator.services.schema import COLOR_RE
from annotator.services.schema import HOTKEYS
from annotator.services.schema import NAME_RE
from annotator.services.schema import OVERLAP_POLICIES
from annotator.services.users import MIN_PASSWORD
from annotator.services.users import USERNAME_RE
from annotator.validation import MAX_INT
from annotator.validation import MIN_INT
from annotator.validation import json_text_problem
from annotator.validation import text_problem

# --- Fields: the one text rule and the one integer range, for every schema -----------------


class String(fields.String):
    """Text that can be stored: no NUL and no lone surrogate (422 naming the field)."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if problem := text_problem(value):
            raise ValidationError(problem)
        return value


INT_RANGE = validate.Range(min=MIN_INT, max=MAX_INT)


class Integer(fields.Integer):
    """A whole number that fits the databases' integer columns (422 naming the field).

    The bound is a validator, so the OpenAPI document states it too; a field whose own range
    is narrower keeps just its own.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        bounded = any(isinstance(v, validate.Range) and v.min is not None and v.max is not None
                      and v.min >= MIN_INT and v.max <= MAX_INT for v in self.validators)
        if not bounded:
            self.validators.append(INT_RANGE)


class Json(fields.Dict):
    """A JSON object of free-form values (attrs, meta) whose keys and strings can be stored."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if problem := json_text_problem(value):
            raise ValidationError(problem)
        return value


class Pattern(validate.Regexp):
    """A regular expression the whole value must match.

    Python's ``$`` also matches before a final newline, so "ACTOR\\n" would pass ``match``;
    the pattern itself stays as written, because the OpenAPI document gives it to clients.
    """

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


class StrictBoolean(fields.Boolean):
    """true or false, nothing else: ``1`` or ``"yes"`` in a schema is a mistake, not a yes."""

    default_error_messages = {"invalid": "Must be true or false."}

    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not bool:
            raise self.make_error("invalid")
        return value


class UTCDateTime(fields.DateTime):
    """An ISO 8601 moment, returned as aware UTC; no zone means UTC."""

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return as_utc(moment)
        except OverflowError:
            # 9999-12-31T23:59:59-23:59 is a valid ISO 8601 string past the last UTC moment.
            raise ValidationError("The moment is out of range once converted to UTC.") from None



class TokenIn(Schema):
    username = String(required=True, validate=validate.Length(max=64))
    password = String(required=True, validate=validate.Length(max=1024))
    name = String(load_default="", validate=validate.Length(max=100))


class TokenOut(Schema):
    token = String()


class UserOut(Schema):
    id = Integer(dump_only=True)
    username = String()
    role = String()
    active = fields.Boolean()
    created_at = UTCDateTime(dump_only=True)


class MeOut(Schema):
    username = String()
    role = String()


# The services' rules, stated here too so that the OpenAPI document shows them.
USERNAME = Pattern(USERNAME_RE, error="Use 2-64 letters, digits, '.', '_' or '-'.")
PASSWORD = validate.Length(min=MIN_PASSWORD, max=1024, error="Use {min} to {max} characters.")
GUIDELINES = validate.Length(max=MAX_GUIDELINES, error="Use at most {max} characters of markdown.")


class UserIn(Schema):
    username = String(required=True, validate=USERNAME)
    password = String(required=True, load_only=True, validate=PASSWORD)
    role = String(load_default="annotator", validate=validate.OneOf(ROLES))


class UserPatch(Schema):
    role = String(validate=validate.OneOf(ROLES))
    active = StrictBoolean()
    password = String(load_only=True, validate=PASSWORD)


class PageQuery(Schema):
    page = Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = Integer(load_default=50, validate=validate.Range(min=1, max=500))


# --- Projects, members, assignments, progress (issue 5) ---------------------------------------


class AssignmentSettings(Schema):
    mode = String(validate=validate.OneOf(ASSIGNMENT_MODES))
    per_document = Integer(strict=True, validate=validate.Range(
        min=1, max=MAX_PER_DOCUMENT, error="Use a whole number from {min} to {max}."))
    claim_timeout_minutes = Integer(strict=True, validate=validate.Range(
        min=1, max=MAX_CLAIM_TIMEOUT, error="Use a whole number from {min} to {max}."))


class _WithLabelSchema(Schema):
    """Keys errors in the label schema by dotted path (``relations.0.head``), as the service does.

    docs/admin.md and the schema editor name a schema's fields that way, whichever layer finds
    the mistake.
    """

    def handle_error(self, error, data, *, many, **kwargs):
        messages = error.messages
        if isinstance(messages, dict) and isinstance(messages.get("schema"), dict):
            hoisted = {key: value for key, value in messages.items() if key != "schema"}
            hoisted.update(flat_errors(messages["schema"], root="schema"))
            raise ValidationError(hoisted) from error


class ProjectIn(_WithLabelSchema):
    name = String(required=True, validate=validate.Length(min=1, max=200))
    guidelines = String(load_default="", validate=GUIDELINES)
    # By name: the label schemas are defined with their parts at the end of this module.
    schema = fields.Nested("LabelSchemaIn", load_default=None, allow_none=True)
    assignment = fields.Nested(AssignmentSettings, load_default=None, allow_none=True)


class ProjectPatch(_WithLabelSchema):
    name = String(validate=validate.Length(min=1, max=200))
    guidelines = String(validate=GUIDELINES)
    schema = fields.Nested("LabelSchemaIn")
    assignment = fields.Nested(AssignmentSettings)


class ProjectOut(Schema):
    id = Integer(dump_only=True)
    name = String()
    guidelines = String()
    schema = Json()
    schema_version = Integer()
    assignment = fields.Function(lambda p: {"mode": p.assignment_mode, "per_document": p.per_document,
                                            "claim_timeout_minutes": p.claim_timeout_minutes})
    created_at = UTCDateTime(dump_only=True)


class MembersIn(Schema):
    usernames = fields.List(String(validate=validate.Length(max=64)), required=True,
                            validate=validate.Length(min=1, max=1000))


class MemberOut(Schema):
    username = String()
    role = String()
    active = fields.Boolean()


class AssignIn(Schema):
    annotators = fields.List(String(validate=validate.Length(max=64)), required=True,
                             validate=validate.Length(min=1, max=1000))
    per_document = Integer(required=True, strict=True, validate=validate.Range(min=1))
    documents = fields.List(Integer(strict=True), validate=validate.Length(min=1, max=100_000))
    dry_run = StrictBoolean(load_default=False)


class AssignmentOut(Schema):
    id = Integer()
    document_id = Integer()
    project_id = fields.Function(lambda a: a.document.project_id)
    annotator = fields.Function(lambda a: a.user.username)
    status = String()
    claim_expires_at = UTCDateTime(allow_none=True)
    started_at = UTCDateTime(allow_none=True)
    finished_at = UTCDateTime(allow_none=True)
    updated_at = UTCDateTime()


class CreatedAssignmentOut(Schema):
    # No project_id here: it would load each document (one query per row on big runs).
    id = Integer()
    document_id = Integer()
    annotator = fields.Function(lambda a: a.user.username)
    status = String()


class AssignOut(Schema):
    created = fields.Function(lambda r: len(r.created))
    assignments = fields.List(fields.Nested(CreatedAssignmentOut), attribute="created")
    planned = fields.Function(lambda r: [{"document_id": d, "annotator": u} for d, u in r.planned])
    documents = Integer()
    complete = Integer()
    short = fields.Function(lambda r: {str(d): n for d, n in r.short.items()})
    loads = Json(keys=String(), values=Integer())
    dry_run = fields.Boolean()


class ReassignIn(Schema):
    annotator = String(required=True, validate=validate.Length(min=1, max=64))


class MyAssignmentsQuery(Schema):
    project = Integer()
    status = String(validate=validate.OneOf(ASSIGNMENT_STATUSES))


class ProjectAssignmentsQuery(Schema):
    annotator = String(validate=validate.Length(max=64))
    status = String(validate=validate.OneOf(ASSIGNMENT_STATUSES))
    document = Integer()


# Token offsets are dumped as stored: validating 2 x 300 integers per document cost 0.5 ms a
# response for data the server made itself. The OpenAPI document still gives their shape.
TOKENS = fields.Raw(metadata={"type": "array", "description": "[[start, end], ...] in code points",
                              "items": {"type": "array", "items": {"type": "integer"}}})


class NextDocumentOut(Schema):
    id = Integer()
    external_id = String(allow_none=True)
    text = String()
    text_sha256 = String()
    meta = Json()
    lang = String()
    tokens = TOKENS


class ProgressOut(Schema):
    project = Json()
    generated_at = String()
    overall = Json()
    annotators = fields.List(Json())
    labels = fields.List(Json())
    relations = fields.List(Json())
    daily = fields.List(Json())


# --- annotations (issue 4) -------------------------------------------------------------------

# Client ids are uuids in practice; any short token of these characters is accepted.
CLIENT_ID = Pattern(r"^[A-Za-z0-9_.:-]{1,64}$", error="Use 1-64 letters, digits, '-', '_', '.' or ':'.")
OFFSET = validate.Range(min=0, max=2**31 - 1)
MAX_BULK_ITEMS = 20_000


class SpanIn(Schema):
    id = String(validate=CLIENT_ID)
    start = Integer(required=True, strict=True, validate=OFFSET)
    end = Integer(required=True, strict=True, validate=OFFSET)
    label = String(required=True, validate=validate.Length(min=1, max=64))
    attrs = Json(keys=String(validate=validate.Length(max=64)), load_default=dict)
    text = String(validate=validate.Length(max=1_000_000))


class SpanPatch(Schema):
    start = Integer(strict=True, validate=OFFSET)
    end = Integer(strict=True, validate=OFFSET)
    label = String(validate=validate.Length(min=1, max=64))
    attrs = Json(keys=String(validate=validate.Length(max=64)))
    text = String(validate=validate.Length(max=1_000_000))


class SpanOut(Schema):
    id = String()
    start = Integer()
    end = Integer()
    label = String()
    attrs = Json()
    text = String()


class SpanWriteOut(SpanOut):
    version = Integer()


class RelationIn(Schema):
    id = String(validate=CLIENT_ID)
    head = String(required=True, validate=validate.Length(min=1, max=64))
    tail = String(required=True, validate=validate.Length(min=1, max=64))
    label = String(required=True, validate=validate.Length(min=1, max=64))
    attrs = Json(keys=String(validate=validate.Length(max=64)), load_default=dict)


class RelationOut(Schema):
    id = String()
    head = String()
    tail = String()
    label = String()
    attrs = Json()


class RelationWriteOut(RelationOut):
    version = Integer()


class DeletedOut(Schema):
    version = Integer()
    deleted_relations = fields.List(String())


class AnnotationsQuery(Schema):
    annotator = String(validate=validate.Length(min=1, max=64))


class AnnotationsOut(Schema):
    document_id = Integer()
    annotator = String()
    status = String(allow_none=True)
    version = Integer()
    spans = fields.List(fields.Nested(SpanOut))
    relations = fields.List(fields.Nested(RelationOut))


class AnnotationsPut(Schema):
    spans = fields.List(fields.Nested(SpanIn), required=True, validate=validate.Length(max=MAX_BULK_ITEMS))
    relations = fields.List(fields.Nested(RelationIn), load_default=list,
                            validate=validate.Length(max=MAX_BULK_ITEMS))

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
    status = String(required=True, validate=validate.OneOf(("in_progress", "submitted", "skipped")))


class StatusOut(Schema):
    status = String()
    version = Integer()


# --- Export (issue 6) ---------------------------------------------------------------------------


class CommaList(fields.List):
    """A query list given as repeated parameters, comma-separated values, or both.

    Errors are reported at the parameter itself, naming the value (``status: ["'done': Must be
    one of ..."]``): the position of a value among split parts means nothing to a caller.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        items = value if isinstance(value, list) else [value]
        parts = [part.strip() for item in items for part in (item.split(",") if isinstance(item, str) else [item])]
        parts = [p for p in parts if p != ""]
        try:
            return super()._deserialize(parts, attr, data, **kwargs)
        except ValidationError as error:
            if not isinstance(error.messages, dict):
                raise
            raise ValidationError([f"{parts[index]!r}: {message}" for index, messages in sorted(error.messages.items())
                                   for message in messages]) from None


# Three whole percentages; that they sum to 100 is the export's own check.
SPLIT = Pattern(r"^ *[0-9]{1,3} *, *[0-9]{1,3} *, *[0-9]{1,3} *$",
                error="Give three whole percentages for train, dev and test, e.g. 80,10,10.")


class ExportQuery(Schema):
    format = String(load_default="jsonl", validate=validate.OneOf(("jsonl", "conll", "spacy")))
    status = CommaList(String(validate=validate.OneOf(ASSIGNMENT_STATUSES)))
    annotator = CommaList(String(validate=validate.Length(min=1, max=64)))
    document = CommaList(Integer())
    updated_since = UTCDateTime()
    split = String(validate=[validate.Length(max=20), SPLIT])
    seed = Integer(validate=validate.Range(min=0, max=2**31 - 1))

    @pre_load
    def drop_empty(self, data, **kwargs):
        """Treat an empty form field (``?updated_since=``) as an absent one."""
        return {key: value for key, value in data.items() if value not in ("", [], [""])}


class ExportSummaryOut(Schema):
    records = Integer()
    documents = Integer()
    spans = Integer()
    relations = Integer()
    splits = Json(keys=String(), values=Integer())


# Documents and imports (DESIGN.md section 5) -------------------------------------------------

IMPORT_FORMATS = ("jsonl", "json", "txt", "html", "csv", "zip")
DOCUMENT_STATUSES = ("assigned", "in_progress", "submitted", "skipped", "unassigned")


class DocumentOut(Schema):
    id = Integer(dump_only=True)
    project_id = Integer(dump_only=True)
    external_id = String(allow_none=True)
    text = String()
    text_sha256 = String()
    meta = Json()
    lang = String()
    tokens = TOKENS
    created_at = UTCDateTime(dump_only=True)


class DocumentAssignmentOut(Schema):
    annotator = String()
    status = String()


class DocumentSummaryOut(Schema):
    """A document in a list: everything but its text and tokens."""

    id = Integer(dump_only=True)
    external_id = String(allow_none=True)
    text_sha256 = String()
    lang = String()
    meta = Json()
    chars = Integer()
    created_at = UTCDateTime(dump_only=True)
    assignments = fields.List(fields.Nested(DocumentAssignmentOut))


class DocumentQuery(Schema):
    status = String(validate=validate.OneOf(DOCUMENT_STATUSES))
    annotator = String(validate=validate.Length(min=1, max=64))
    q = String(validate=validate.Length(max=200))


class ImportOptions(Schema):
    """Options of an import, in a JSON body or as multipart form fields."""

    as_user = String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    clean = fields.Boolean(load_default=False)
    skip_invalid = fields.Boolean(load_default=False)
    suggestions = fields.Boolean(load_default=False)


class ImportJsonIn(ImportOptions):
    # JSON has booleans; the form fields of ImportFormIn are text ("true", "on").
    clean = StrictBoolean(load_default=False)
    skip_invalid = StrictBoolean(load_default=False)
    suggestions = StrictBoolean(load_default=False)
    # Records are checked one by one by the import, which reports errors by record number.
    documents = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1))


class ImportFormIn(ImportOptions):
    format = String(load_default=None, allow_none=True, validate=validate.OneOf(IMPORT_FORMATS))
    text_column = String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class ImportErrorOut(Schema):
    line = Integer()
    file = String()
    message = String()


class ImportDuplicateOut(Schema):
    line = Integer()
    file = String()
    external_id = String(allow_none=True)
    document_id = Integer(allow_none=True)


class ImportReportOut(Schema):
    created = Integer()
    duplicates = fields.List(fields.Nested(ImportDuplicateOut))
    duplicate_count = Integer()
    document_ids = fields.List(Integer())
    annotation_sets = Integer()
    errors = fields.List(fields.Nested(ImportErrorOut))
    error_count = Integer()
    records = Integer()


# --- Label schemas: a project's labels, attributes, relation types and overlap rule ----------
#
# Shape only; annotator.services.schema checks what needs the whole schema (duplicate names
# and hotkeys, relations naming unknown labels) and the projects service what needs stored
# annotations. Errors are keyed by dotted path (``relations.0.head``), as docs/admin.md says.


NAME_RULE = Pattern(NAME_RE, error="Use 1-64 ASCII letters, digits, '_' or '-', starting with a letter.")


class ItemList(fields.List):
    """A list whose item errors are reported at the list's own path, naming the item.

    ``relations.0.head`` is the path the docs and the editor know for a relation's head labels;
    "Item 1: Not a valid string." says which of them is wrong.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except ValidationError as error:
            if not isinstance(error.messages, dict):
                raise
            raise ValidationError([f"Item {index}: {message}" for index, messages in sorted(error.messages.items())
                                   for message in messages]) from None


def _distinct(values):
    repeated = sorted(value for value, n in Counter(values).items() if n > 1)
    if repeated:
        raise ValidationError(f"Listed more than once: {', '.join(repeated)}.")


class _SchemaPart(Schema):
    error_messages = {"type": "Must be an object."}


class AttributeIn(_SchemaPart):
    name = String(required=True, validate=NAME_RULE)
    type = String(required=True, validate=validate.OneOf(ATTRIBUTE_TYPES))
    values = ItemList(String(validate=validate.Length(min=1)), metadata={"uniqueItems": True}, validate=[
        validate.Length(min=1, error="List distinct, non-empty strings."), _distinct])
    required = StrictBoolean(load_default=False)

    @validates_schema
    def values_only_for_enums(self, data, **kwargs):
        """Require values for an enum attribute, and refuse them for the other types."""
        if data["type"] == "enum" and "values" not in data:
            raise ValidationError("List distinct, non-empty strings.", "values")
        if data["type"] != "enum" and "values" in data:
            raise ValidationError("Only enum attributes have values.", "values")


class LabelIn(_SchemaPart):
    name = String(required=True, validate=NAME_RULE)
    color = String(load_default="#888888", validate=Pattern(COLOR_RE, error="Use a colour like #1f77b4."))
    hotkey = String(load_default=None, allow_none=True,
                    validate=validate.OneOf(HOTKEYS, error="Use a digit from 1 to 9, or null."))
    description = String(load_default="")
    attributes = fields.List(fields.Nested(AttributeIn), load_default=list)


LABEL_NAMES = {"required": "List the labels allowed here."}


class RelationTypeIn(_SchemaPart):
    name = String(required=True, validate=NAME_RULE)
    head = ItemList(String(), required=True, error_messages=LABEL_NAMES,
                    validate=validate.Length(min=1, error=LABEL_NAMES["required"]))
    tail = ItemList(String(), required=True, error_messages=LABEL_NAMES,
                    validate=validate.Length(min=1, error=LABEL_NAMES["required"]))
    same_label = StrictBoolean(load_default=False)
    description = String(load_default="")


class LabelSchemaIn(_SchemaPart):
    """A project's label schema (annotator.services.schema describes it)."""

    overlap = String(load_default="nest", validate=validate.OneOf(OVERLAP_POLICIES))
    labels = fields.List(fields.Nested(LabelIn), required=True,
                         error_messages={"required": "At least one label is required."},
                         validate=validate.Length(min=1, error="At least one label is required."))
    relations = fields.List(fields.Nested(RelationTypeIn), load_default=list)
