"""Label schemas: the default conflict scheme, and the validation of a project's schema.

Its shape is checked by marshmallow (:class:`LabelSchemaIn` and its parts, at the end; the API's
``ProjectIn`` nests it), the rules across entries by :func:`validate_schema`; errors are keyed by
dotted path (``relations.0.head``), as docs/admin.md says.

The rules a schema sets for spans and relations (attributes, relation types, overlap) are
:mod:`annotator.services.label_schema`'s; this module holds what the editor checks.

A schema is JSON::

    {"overlap": "nest",
     "labels": [{"name": "ACTOR", "color": "#1f77b4", "hotkey": "1", "description": "...",
                 "attributes": [{"name": "number", "type": "enum",
                                 "values": ["individual", "group"], "required": false}]}],
     "relations": [{"name": "claimed_by", "head": ["CASUALTY_CLAIM"], "tail": ["ACTOR"],
                    "same_label": false}]}

``overlap`` is the overlap policy: ``nest`` (spans may nest, not cross, and no two share both
ends; the conflict scheme's rule), ``none`` (no two spans overlap) or ``any``. Attribute types
are ``enum``, ``integer``, ``boolean`` and ``text``; a value may be null unless required.
"""

import copy
import re
from collections import Counter

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

from annotator.choices import ATTRIBUTE_TYPES
from annotator.choices import HOTKEYS
from annotator.choices import OVERLAP_POLICIES
from annotator.errors import Invalid
from annotator.errors import flat_errors
from annotator.fields import ItemList
from annotator.fields import Pattern
from annotator.fields import StrictBoolean
from annotator.fields import String


def _enum(name, values, required=False):
    return {"name": name, "type": "enum", "values": list(values), "required": required}


def _int(name):
    return {"name": name, "type": "integer", "required": False}


def _text(name):
    return {"name": name, "type": "text", "required": False}


ACE_SUBTYPES = {
    "PER": ["Individual", "Group", "Indeterminate"],
    "ORG": ["Government", "Non-Governmental", "Commercial", "Educational", "Entertainment",
            "Media", "Religious", "Medical-Science", "Sports"],
    "GPE": ["Continent", "Nation", "State-or-Province", "County-or-District",
            "Population-Center", "GPE-Cluster", "Special"],
    "LOC": ["Address", "Boundary", "Celestial", "Water-Body", "Land-Region-Natural",
            "Region-General", "Region-International"],
    "FAC": ["Airport", "Building-Grounds", "Path", "Plant", "Subarea-Facility"],
    "WEA": ["Blunt", "Exploding", "Sharp", "Chemical", "Biological", "Shooting", "Projectile",
            "Nuclear", "Underspecified"],
    "VEH": ["Air", "Land", "Water", "Subarea-Vehicle", "Underspecified"],
}


def _subtypes(*types):
    # dict.fromkeys keeps the order and drops the repeats ("Underspecified" is WEA and VEH).
    return list(dict.fromkeys(subtype for t in types for subtype in ACE_SUBTYPES[t]))


DEFAULT_SCHEMA = {
    "overlap": "nest",
    "labels": [
        {
            "name": "ACTOR", "color": "#1f77b4", "hotkey": "1",
            "description": "A person, group, organisation or metonymic GPE that takes part in, "
                           "is affected by, or reports on the violence.",
            "attributes": [
                _enum("ace_type", ["PER", "ORG", "GPE"]),
                _enum("ace_subtype", _subtypes("PER", "ORG", "GPE")),
                _enum("number", ["individual", "group"]),
                _enum("actor_kind", [
                    "state_forces", "rebel_group", "political_militia", "identity_militia",
                    "rioters", "protesters", "civilians", "external_forces", "state_official",
                    "media", "monitor_ngo", "medical_rescue", "international_org", "unknown"]),
                _enum("mention", ["NAM", "NOM", "PRO"]),
            ],
        },
        {
            "name": "WEAPON", "color": "#d62728", "hotkey": "2",
            "description": "A weapon, munition or weapon-delivering platform used as the "
                           "instrument.",
            "attributes": [
                _enum("ace_type", ["WEA", "VEH"]),
                _enum("ace_subtype", _subtypes("WEA", "VEH")),
                _enum("weapon_class", [
                    "air_strike", "drone", "artillery", "mortar", "rocket_missile", "ied_mine",
                    "grenade", "suicide_bomb", "chemical", "small_arms", "bladed", "other"]),
            ],
        },
        {
            "name": "LOCATION", "color": "#2ca02c", "hotkey": "3",
            "description": "A GPE, LOC or FAC mention.",
            "attributes": [
                _enum("ace_type", ["GPE", "LOC", "FAC"]),
                _enum("ace_subtype", _subtypes("GPE", "LOC", "FAC")),
                _enum("granularity", [
                    "facility", "neighbourhood", "populated_place", "district", "province",
                    "country", "region", "route", "other"]),
                _text("lang"),
                _text("normalized"),
            ],
        },
        {
            "name": "CASUALTY_CLAIM", "color": "#9467bd", "hotkey": "4",
            "description": "A statement that a number (possibly vague or zero) of people were "
                           "killed, injured or went missing through violence.",
            "attributes": [
                _enum("outcome", ["killed", "injured", "missing", "unspecified"]),
                _text("count_text"),
                _int("count_value"),
                _int("count_low"),
                _int("count_high"),
                _enum("qualifier", ["exact", "approximate", "at_least", "more_than", "almost",
                                    "up_to", "range", "vague", "none"]),
                _enum("victim_category", ["civilian", "combatant", "mixed", "unknown"]),
                _enum("polarity", ["positive", "negative"]),
                _enum("modality", ["asserted", "hedged"]),
                _enum("scope", ["incident", "cumulative"]),
            ],
        },
    ],
    "relations": [
        {"name": "claimed_by", "head": ["CASUALTY_CLAIM"], "tail": ["ACTOR"]},
        {"name": "perpetrator", "head": ["CASUALTY_CLAIM"], "tail": ["ACTOR"]},
        {"name": "victim", "head": ["CASUALTY_CLAIM"], "tail": ["ACTOR"]},
        {"name": "instrument", "head": ["CASUALTY_CLAIM"], "tail": ["WEAPON"]},
        {"name": "place", "head": ["CASUALTY_CLAIM"], "tail": ["LOCATION"]},
        {"name": "uses", "head": ["ACTOR"], "tail": ["WEAPON"]},
        {"name": "targets", "head": ["ACTOR"], "tail": ["ACTOR", "LOCATION"]},
        {"name": "part_of", "head": ["LOCATION"], "tail": ["LOCATION"]},
        {"name": "member_of", "head": ["ACTOR"], "tail": ["ACTOR"]},
        {"name": "coref", "head": ["ACTOR", "WEAPON", "LOCATION", "CASUALTY_CLAIM"],
         "tail": ["ACTOR", "WEAPON", "LOCATION", "CASUALTY_CLAIM"], "same_label": True},
    ],
}


def default_schema() -> dict:
    """Return a fresh copy of the default conflict schema (docs/scheme.md)."""
    return validate_schema(copy.deepcopy(DEFAULT_SCHEMA))


def validate_schema(schema) -> dict:
    """Check a label schema and return it with defaults filled in.

    The shape (types, required fields, allowed values) is :class:`annotator.schemas.LabelSchemaIn`'s
    to check; the rules across entries are checked here: names and hotkeys used once, and
    relation types naming only labels of the schema.

    :raise Invalid: with field-level errors keyed like ``labels.2.hotkey``.
    """
    try:
        schema = LabelSchemaIn().load(schema)
    except ValidationError as error:
        raise Invalid("The schema is not valid.", flat_errors(error.messages, root="schema")) from None
    errors: dict[str, list[str]] = {}

    def err(key, message):
        errors.setdefault(key, []).append(message)

    names, hotkeys = set(), {}
    for i, label in enumerate(schema["labels"]):
        at, name, hotkey = f"labels.{i}", label["name"], label["hotkey"]
        if name in names:
            err(f"{at}.name", f"Duplicate label {name!r}.")
        names.add(name)
        if hotkey is not None:
            if hotkey in hotkeys:
                err(f"{at}.hotkey", f"Hotkey {hotkey} is already used by {hotkeys[hotkey]}.")
            else:
                hotkeys[hotkey] = name
        attribute_names = set()
        for j, attribute in enumerate(label["attributes"]):
            if attribute["name"] in attribute_names:
                err(f"{at}.attributes.{j}.name", f"Duplicate attribute {attribute['name']!r}.")
            attribute_names.add(attribute["name"])
    relation_names = set()
    for i, relation in enumerate(schema["relations"]):
        at = f"relations.{i}"
        if relation["name"] in relation_names:
            err(f"{at}.name", f"Duplicate relation {relation['name']!r}.")
        relation_names.add(relation["name"])
        for end in ("head", "tail"):
            for label_name in relation[end]:
                if label_name not in names:
                    err(f"{at}.{end}", f"Unknown label {label_name!r}.")
    if errors:
        raise Invalid("The schema is not valid.", errors)
    return schema


# --- The shape of a label schema (marshmallow): what validate_schema loads first --------------

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
NAME_RULE = Pattern(NAME_RE, error="Use 1-64 ASCII letters, digits, '_' or '-', starting with a letter.")


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
