"""The fields every schema is made of: the one text rule and the one integer range.

:class:`String` refuses what cannot be stored, :class:`Integer` what the integer columns cannot
hold; the list fields report item errors where callers look for them. :data:`TOKENS` is the
shape of a document's token offsets, dumped as stored.
"""

from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate

from annotator.models import as_utc
from annotator.validation import MAX_INT
from annotator.validation import MIN_INT
from annotator.validation import json_text_problem
from annotator.validation import text_problem


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


# Token offsets are dumped as stored: validating 2 x 300 integers per document cost 0.5 ms a
# response for data the server made itself. The OpenAPI document still gives their shape.
TOKENS = fields.Raw(metadata={"type": "array", "description": "[[start, end], ...] in code points",
                              "items": {"type": "array", "items": {"type": "integer"}}})
