"""The label schema's rules for spans and relations, parsed once per schema.

A project's schema (see :mod:`annotator.services.schema` for its shape and the editor's
checks) says which labels a span may have, which attributes each label takes, which relation
types link which labels, and the overlap policy. :class:`LabelSchema` holds those rules in the
form the checks need, built once per schema by :func:`label_schema` and shared by every write
path (the API, the CLI, the import), so no path can store a span the others would refuse.
The module functions below check against a schema dict as given; the import uses them.

Offsets are code points into the stored text, end-exclusive; :func:`span_errors` is the
boundary rule (no end inside a grapheme cluster), which depends on the text, not the schema.
"""

import functools
import json
from dataclasses import dataclass

from annotator.services.text import Graphemes

# Schemas parsed lately, keyed by their JSON text: few projects are written to at once.
_CACHE_SIZE = 64


@dataclass(slots=True)
class PlannedSpan:
    """One span of a new set, checked on its own: its client id (or None), extent, label, attributes."""

    uuid: str | None
    start: int
    end: int
    label: str
    attrs: dict


class LabelSchema:
    """Holds one label schema's rules: labels, attributes, relation types, overlap policy."""

    def __init__(self, schema: dict):
        self.schema = schema
        self.policy: str = schema.get("overlap", "nest")
        self.labels: dict[str, dict] = {label["name"]: label for label in schema["labels"]}
        self.attributes: dict[str, dict[str, dict]] = {
            name: {a["name"]: a for a in label["attributes"]} for name, label in self.labels.items()}
        self.required: dict[str, tuple[str, ...]] = {
            name: tuple(a for a, spec in by_name.items() if spec["required"])
            for name, by_name in self.attributes.items()}
        # The first relation type of a name decides, as a validated schema has one of each.
        self.relations: dict[str, dict] = {}
        for relation in schema.get("relations", []):
            self.relations.setdefault(relation["name"], relation)

    # --- spans ---------------------------------------------------------------------------

    def span_problems(self, text: str, start, end, label, attrs, client_text=None, prefix="",
                      graphemes: Graphemes | None = None) -> dict[str, list[str]]:
        """Return field errors for one span of ``text``: boundaries, label, attributes.

        Required attributes are left for submission; the overlap policy, which needs the rest
        of the set, is :meth:`overlap_error`'s.
        """
        errors = {f"{prefix}{k}": v for k, v in span_errors(text, start, end, client_text, graphemes).items()}
        spec = self.labels.get(label) if isinstance(label, str) else None
        if spec is None:
            names = ", ".join(self.labels)
            errors[f"{prefix}label"] = [f"Unknown label {label!r}; use one of: {names}."]
            return errors
        if errors:
            return errors
        if problems := self.attribute_errors(label, attrs, drafting=True):
            errors[f"{prefix}attrs"] = problems
        return errors

    def plan_spans(self, text: str, raw_spans) -> tuple[list[dict], dict[str, list[str]]]:
        """Check a whole new set of spans; return the ones that pass and errors keyed ``spans.3.end``.

        Each span is checked on its own, ids must not repeat, and then the overlap policy runs
        over the set at once (:meth:`overlap_errors`). A span sent without an id keeps
        ``uuid`` None for the caller to name.
        """
        problems_at: list[dict[str, list[str]]] = []
        candidates: dict[int, PlannedSpan] = {}
        seen: dict[str, int] = {}
        graphemes = Graphemes(text)  # one for all the spans: it keeps what it found
        for i, raw in enumerate(raw_spans):
            prefix = f"spans.{i}."
            attrs = raw.get("attrs") or {}
            span_problems = self.span_problems(text, raw["start"], raw["end"], raw["label"], attrs,
                                               raw.get("text"), prefix, graphemes)
            span_id = raw.get("id")
            if span_id is not None and span_id in seen:
                span_problems[f"{prefix}id"] = [f"Repeats the id of span {seen[span_id]}."]
            if not span_problems:
                candidates[i] = PlannedSpan(span_id, raw["start"], raw["end"], raw["label"], attrs)
            if span_id is not None:
                seen.setdefault(span_id, i)
            problems_at.append(span_problems)
        order = list(candidates)
        refused = {order[k]: why for k, why in self.overlap_errors(list(candidates.values())).items()}
        errors: dict[str, list[str]] = {}
        for i, span_problems in enumerate(problems_at):
            if i in refused:
                span_problems[f"spans.{i}.start"] = [refused[i]]
            errors.update(span_problems)
        planned = [{"uuid": p.uuid, "start": p.start, "end": p.end, "label": p.label, "attrs": p.attrs}
                   for i, p in candidates.items() if i not in refused]
        return planned, errors

    # --- attributes ------------------------------------------------------------------------

    def attribute_errors(self, label: str, attrs, *, drafting: bool = False) -> list[str]:
        """Return what is wrong with ``attrs`` for a span labelled ``label`` (empty when valid).

        :param drafting: leave missing required attributes alone; they are checked on submit.
        """
        return _attribute_problems(label, self.attributes.get(label), attrs, drafting)

    def submission_errors(self, spans) -> dict[str, list[str]]:
        """Return the spans that leave required attributes empty, keyed ``spans.3.attrs``."""
        errors = {}
        for i, span in enumerate(spans):
            attrs = span.attrs or {}
            if absent := [name for name in self.required.get(span.label, ()) if attrs.get(name) is None]:
                errors[f"spans.{i}.attrs"] = [f"{span.label} {span.uuid} needs: {', '.join(absent)}."]
        return errors

    # --- relations -------------------------------------------------------------------------

    def relation_error(self, label: str, head_label: str, tail_label: str) -> str | None:
        """Return why a relation ``label`` from ``head_label`` to ``tail_label`` is not allowed."""
        return _relation_problem(self.relations.get(label), label, head_label, tail_label)

    def relation_problems(self, head_ref, tail_ref, label, by_uuid: dict, prefix="") -> tuple[dict, tuple]:
        """Return field errors for a relation between two spans of a set, and its ``(head, tail)``.

        :param by_uuid: the set's spans by client id; the ends name spans of it.
        """
        errors: dict[str, list[str]] = {}
        ends = []
        for name, ref in (("head", head_ref), ("tail", tail_ref)):
            span = by_uuid.get(ref) if isinstance(ref, str) else None
            if span is None:
                errors[f"{prefix}{name}"] = [f"No span {ref!r} in your annotations."]
            ends.append(span)
        if errors:
            return errors, ()
        head, tail = ends
        if head is tail:
            errors[f"{prefix}tail"] = ["A relation links two different spans."]
        elif why := self.relation_error(label, head.label, tail.label):
            errors[f"{prefix}label"] = [why]
        return errors, (head, tail)

    def relabel_problems(self, span, label: str, relations) -> list[str]:
        """Return why giving ``span`` the label ``label`` breaks relations it is an end of."""
        problems = []
        for relation in relations:
            if relation.head_id == span.id or relation.tail_id == span.id:
                head = label if relation.head_id == span.id else relation.head.label
                tail = label if relation.tail_id == span.id else relation.tail.label
                if why := self.relation_error(relation.label, head, tail):
                    problems.append(f"Relation {relation.uuid}: {why}")
        return problems

    # --- overlap ---------------------------------------------------------------------------

    def overlap_error(self, spans, start: int, end: int, label: str, ignore=None) -> str | None:
        """Return why a span ``[start, end)`` breaks the overlap policy against ``spans``.

        :param spans: the other spans of the set, objects with ``start``, ``end``, ``label``, ``uuid``.
        :param ignore: the uuid of the span being edited, which is not compared with itself.
        """
        return overlap_error(self.policy, spans, start, end, label, ignore)

    def overlap_errors(self, spans: list) -> dict[int, str]:
        """Return why each span of a new set breaks the overlap policy, by index in ``spans``.

        Each span is checked against the spans before it that were not refused themselves, so
        the answer is what adding them one at a time would say. A sort and one sweep find
        whether any pair conflicts (O(n log n)); only then are the refused spans named, pair
        by pair, so a valid set of thousands of spans costs no quadratic work.

        :param spans: objects with ``start``, ``end``, ``label`` and ``uuid``.
        """
        if not self._any_conflict(spans):
            return {}
        reasons: dict[int, str] = {}
        accepted: list = []
        for i, span in enumerate(spans):
            if reason := overlap_error(self.policy, accepted, span.start, span.end, span.label):
                reasons[i] = reason
            else:
                accepted.append(span)
        return reasons

    def _any_conflict(self, spans: list) -> bool:
        """Tell whether any two of ``spans`` break the overlap policy (one sort, one sweep)."""
        if self.policy == "any":
            extents = {(s.start, s.end, s.label) for s in spans}
            return len(extents) != len(spans)
        # Longer spans first among those that start together, so an enclosing span comes first.
        ordered = sorted(spans, key=lambda s: (s.start, -s.end))
        if self.policy == "none":
            reach = None
            for span in ordered:
                if reach is not None and span.start < reach:
                    return True
                reach = span.end if reach is None else max(reach, span.end)
            return False
        # nest: the open spans form a chain, each inside the one below it; a new span must
        # nest in the innermost that is still open and may not share both its ends.
        open_spans: list = []
        for span in ordered:
            while open_spans and open_spans[-1].end <= span.start:
                open_spans.pop()
            if open_spans:
                inner = open_spans[-1]
                if span.end > inner.end or (span.start, span.end) == (inner.start, inner.end):
                    return True
            open_spans.append(span)
        return False


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _parsed(key: str) -> LabelSchema:
    return LabelSchema(json.loads(key))


def label_schema(schema: dict) -> LabelSchema:
    """Return the :class:`LabelSchema` of a schema dict, parsed once per distinct schema.

    The key is the schema's JSON text, not the project and its ``schema_version``: a schema is
    small, and the key stays right however the dict was made (a test's project, an import's).
    """
    return _parsed(json.dumps(schema, sort_keys=True, separators=(",", ":")))


# --- the rules as functions of a schema dict (the import checks records with these) -----------
# They read the dict as given, without the cache: the import passes each label's schema cut
# down to that label, once per span, where building a cache key would cost more than the check.

def labels_by_name(schema: dict) -> dict[str, dict]:
    """Return the schema's labels keyed by name."""
    return {label["name"]: label for label in schema["labels"]}


def attribute_errors(schema: dict, label: str, attrs) -> list[str]:
    """Return what is wrong with ``attrs`` for a span labelled ``label`` (empty when valid)."""
    spec = labels_by_name(schema).get(label)
    by_name = {a["name"]: a for a in spec["attributes"]} if spec is not None else None
    return _attribute_problems(label, by_name, attrs)


def relation_error(schema: dict, label: str, head_label: str, tail_label: str) -> str | None:
    """Return why a relation ``label`` from ``head_label`` to ``tail_label`` is not allowed."""
    for relation in schema.get("relations", []):
        if relation["name"] == label:
            return _relation_problem(relation, label, head_label, tail_label)
    return _relation_problem(None, label, head_label, tail_label)


def overlap_error(policy: str, spans, start: int, end: int, label: str, ignore=None) -> str | None:
    """Return why a span ``[start, end)`` breaks the overlap policy against ``spans``.

    :param spans: the other spans of the set, objects with ``start``, ``end``, ``label``, ``uuid``.
    :param ignore: the uuid of the span being edited, which is not compared with itself.
    """
    for other in spans:
        if ignore is not None and other.uuid == ignore:
            continue
        if other.end <= start or end <= other.start:
            continue
        same_extent = other.start == start and other.end == end
        if policy == "any":
            if same_extent and other.label == label:
                return f"The same {label} span already exists at {start}-{end}."
            continue
        if policy == "none":
            return f"Overlaps the {other.label} span at {other.start}-{other.end}; this project allows no overlaps."
        if same_extent:
            return f"A {other.label} span already covers exactly {start}-{end}."
        nested = (other.start <= start and end <= other.end) or (start <= other.start and other.end <= end)
        if not nested:
            return (f"Crosses the {other.label} span at {other.start}-{other.end}; "
                    "spans may nest but not cross.")
    return None


def _attribute_problems(label: str, by_name: dict | None, attrs, drafting: bool = False) -> list[str]:
    if by_name is None:
        return [f"Unknown label {label!r}."]
    if not isinstance(attrs, dict):
        return ["Attributes must be an object."]
    problems = [f"{label} has no attribute {name!r}." for name in attrs if name not in by_name]
    for name, attribute in by_name.items():
        value = attrs.get(name)
        if value is None:
            if attribute["required"] and not drafting:
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


def _relation_problem(relation: dict | None, label: str, head_label: str, tail_label: str) -> str | None:
    if relation is None:
        return f"Unknown relation type {label!r}."
    if head_label not in relation["head"] or tail_label not in relation["tail"]:
        return (f"{label} goes from {'/'.join(relation['head'])} "
                f"to {'/'.join(relation['tail'])}, not {head_label} to {tail_label}.")
    if relation.get("same_label") and head_label != tail_label:
        return f"{label} links two spans of the same label."
    return None


def span_errors(text: str, start, end, client_text=None, graphemes: Graphemes | None = None) -> dict[str, list[str]]:
    """Return field errors for a span ``[start, end)`` of ``text`` (empty when valid).

    Neither end may fall inside an extended grapheme cluster (``\\X`` of the ``regex``
    module): a flag, an emoji with its skin tone or ZWJ partners, a Hangul syllable of jamo, a
    letter with its combining marks or an Indic conjunct is one character to a reader.

    :param client_text: the text the client believes it selected; it must equal
        ``text[start:end]`` when given.
    :param graphemes: the text's :class:`Graphemes`, to share between the spans of one write.
    """
    errors: dict[str, list[str]] = {}
    for name, value in (("start", start), ("end", end)):
        if type(value) is not int:
            errors[name] = ["Must be a whole number of code points."]
    if errors:
        return errors
    if start < 0:
        errors["start"] = ["Must be 0 or more."]
    if end > len(text):
        errors["end"] = [f"Must be at most the text length ({len(text)})."]
    if start >= end:
        errors.setdefault("end", []).append("Must be greater than start.")
    if errors:
        return errors
    graphemes = graphemes or Graphemes(text)
    for name, offset, verb in (("start", start, "Starts"), ("end", end, "Ends")):
        if cluster := graphemes.cluster_split(offset):
            errors[name] = [f"{verb} inside a character: {cluster[0]}-{cluster[1]} is one grapheme cluster "
                            f"(a letter with its marks, a flag, an emoji sequence); {name} at {cluster[0]} "
                            f"or {cluster[1]}."]
    if client_text is not None and client_text != text[start:end]:
        errors["text"] = [f"Does not match the document text at {start}-{end}: "
                          f"{text[start:end][:80]!r}."]
    return errors
