"""Schemas of projects, their members and their progress (issue 5)."""

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate

from annotator.choices import ASSIGNMENT_MODES
from annotator.errors import flat_errors
from annotator.fields import Integer
from annotator.fields import Json
from annotator.fields import String
from annotator.fields import UTCDateTime
from annotator.services.projects import MAX_CLAIM_TIMEOUT
from annotator.services.projects import MAX_GUIDELINES
from annotator.services.projects import MAX_PER_DOCUMENT
from annotator.services.schema import LabelSchemaIn

# The service's rule, stated here too so that the OpenAPI document shows it.
GUIDELINES = validate.Length(max=MAX_GUIDELINES, error="Use at most {max} characters of markdown.")


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
    schema = fields.Nested(LabelSchemaIn, load_default=None, allow_none=True)
    assignment = fields.Nested(AssignmentSettings, load_default=None, allow_none=True)


class ProjectPatch(_WithLabelSchema):
    name = String(validate=validate.Length(min=1, max=200))
    guidelines = String(validate=GUIDELINES)
    schema = fields.Nested(LabelSchemaIn)
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


class ProgressOut(Schema):
    project = Json()
    generated_at = String()
    overall = Json()
    annotators = fields.List(Json())
    labels = fields.List(Json())
    relations = fields.List(Json())
    daily = fields.List(Json())
