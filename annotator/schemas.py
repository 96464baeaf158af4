"""Marshmallow schemas: the shape of what the API takes (``*In``) and gives (``*Out``).

Shape only: types, required fields, allowed values. No database access and no current user
here; the services check the rules that need state. Unknown fields are refused (RAISE, the
marshmallow default), and server-owned fields are ``dump_only``.
"""

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

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
