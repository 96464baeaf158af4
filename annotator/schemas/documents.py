"""Schemas of documents and their import (docs/design.md section 5)."""

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from annotator.choices import DOCUMENT_STATUSES
from annotator.choices import IMPORT_FORMATS
from annotator.fields import TOKENS
from annotator.fields import Integer
from annotator.fields import Json
from annotator.fields import StrictBoolean
from annotator.fields import String
from annotator.fields import UTCDateTime


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


class NextDocumentOut(DocumentOut):
    """My next document: the document as GET /documents/{did} gives it, less its project and date."""

    class Meta:
        exclude = ("project_id", "created_at")


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
