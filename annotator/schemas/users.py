"""Schemas of tokens, users and who is asking (``/auth``, ``/users``)."""

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from annotator.choices import ROLES
from annotator.fields import Integer
from annotator.fields import Pattern
from annotator.fields import StrictBoolean
from annotator.fields import String
from annotator.fields import UTCDateTime
from annotator.services.users import MIN_PASSWORD
from annotator.services.users import USERNAME_RE


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


class UserIn(Schema):
    username = String(required=True, validate=USERNAME)
    password = String(required=True, load_only=True, validate=PASSWORD)
    role = String(load_default="annotator", validate=validate.OneOf(ROLES))


class UserPatch(Schema):
    role = String(validate=validate.OneOf(ROLES))
    active = StrictBoolean()
    password = String(load_only=True, validate=PASSWORD)
