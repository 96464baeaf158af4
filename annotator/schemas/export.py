"""Schemas of an export's filters and its summary (issue 6)."""

from marshmallow import Schema
from marshmallow import pre_load
from marshmallow import validate

from annotator.choices import ASSIGNMENT_STATUSES
from annotator.choices import EXPORT_FORMATS
from annotator.fields import CommaList
from annotator.fields import Integer
from annotator.fields import Json
from annotator.fields import Pattern
from annotator.fields import String
from annotator.fields import UTCDateTime

# Three whole percentages; that they sum to 100 is the export's own check.
SPLIT = Pattern(r"^ *[0-9]{1,3} *, *[0-9]{1,3} *, *[0-9]{1,3} *$",
                error="Give three whole percentages for train, dev and test, e.g. 80,10,10.")


class ExportQuery(Schema):
    format = String(load_default="jsonl", validate=validate.OneOf(EXPORT_FORMATS))
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
