"""Label schemas: the default conflict scheme and the validation of a project's schema.

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

from marshmallow import ValidationError

from annotator.errors import Invalid
from annotator.errors import flat_errors

ATTRIBUTE_TYPES = ("enum", "integer", "boolean", "text")
OVERLAP_POLICIES = ("nest", "none", "any")
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
HOTKEYS = tuple("123456789")


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
    """Return a fresh copy of the default conflict schema (SCHEME.md)."""
    return validate_schema(copy.deepcopy(DEFAULT_SCHEMA))


def validate_schema(schema) -> dict:
    """Check a label schema and return it with defaults filled in.

    The shape (types, required fields, allowed values) is :class:`annotator.schemas.LabelSchemaIn`'s
    to check; the rules across entries are checked here: names and hotkeys used once, and
    relation types naming only labels of the schema.

    :raise Invalid: with field-level errors keyed like ``labels.2.hotkey``.
    """
    # Imported here: annotator.schemas imports this module's constants.
    from annotator.schemas import LabelSchemaIn

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


def labels_by_name(schema: dict) -> dict[str, dict]:
    """Return the schema's labels keyed by name."""
    return {label["name"]: label for label in schema["labels"]}


def attribute_errors(schema: dict, label: str, attrs) -> list[str]:
    """Return what is wrong with ``attrs`` for a span labelled ``label`` (empty when valid)."""
    spec = labels_by_name(schema).get(label)
    if spec is None:
        return [f"Unknown label {label!r}."]
    if not isinstance(attrs, dict):
        return ["Attributes must be an object."]
    problems = []
    by_name = {a["name"]: a for a in spec["attributes"]}
    for name in attrs:
        if name not in by_name:
            problems.append(f"{label} has no attribute {name!r}.")
    for name, attribute in by_name.items():
        value = attrs.get(name)
        if value is None:
            if attribute["required"]:
                problems.append(f"{name} is required.")
            continue
        kind = attribute["type"]
        if kind == "enum" and value not in attribute["values"]:
            problems.append(f"{name} must be one of: {', '.join(attribute['values'])}.")
        elif kind == "integer" and (type(value) is not int or abs(value) > 2**53):
            problems.append(f"{name} must be a whole number.")
        elif kind == "boolean" and type(value) is not bool:
            problems.append(f"{name} must be true or false.")
        elif kind == "text" and (not isinstance(value, str) or len(value) > 10_000):
            problems.append(f"{name} must be text (at most 10,000 characters).")
    return problems


def relation_error(schema: dict, label: str, head_label: str, tail_label: str) -> str | None:
    """Return why a relation ``label`` from ``head_label`` to ``tail_label`` is not allowed."""
    for relation in schema.get("relations", []):
        if relation["name"] != label:
            continue
        if head_label not in relation["head"] or tail_label not in relation["tail"]:
            return (f"{label} goes from {'/'.join(relation['head'])} "
                    f"to {'/'.join(relation['tail'])}, not {head_label} to {tail_label}.")
        if relation.get("same_label") and head_label != tail_label:
            return f"{label} links two spans of the same label."
        return None
    return f"Unknown relation type {label!r}."
