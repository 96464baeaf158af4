"""Schemas of one annotator's spans, relations and status on a document (issue 4)."""

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import pre_load
from marshmallow import validate

from annotator.fields import Integer
from annotator.fields import Json
from annotator.fields import Pattern
from annotator.fields import String

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
