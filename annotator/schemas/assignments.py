"""Schemas of assignments: who annotates what, my queue, my next document (issue 5)."""

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from annotator.choices import ASSIGNMENT_STATUSES
from annotator.fields import Integer
from annotator.fields import Json
from annotator.fields import StrictBoolean
from annotator.fields import String
from annotator.fields import UTCDateTime


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
