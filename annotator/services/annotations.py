"""Spans and relations: the offsets contract, the schema, the overlap policy.

Offsets are code points into the stored text, end-exclusive (DESIGN.md section 4). Every write
path (the API, the import, the CLI) checks spans with :func:`span_errors` and
:func:`overlap_error`, so no path can store a span the others would refuse.
"""

from annotator.services.text import is_boundary


def span_errors(text: str, start, end, client_text=None) -> dict[str, list[str]]:
    """Return field errors for a span ``[start, end)`` of ``text`` (empty when valid).

    :param client_text: the text the client believes it selected; it must equal
        ``text[start:end]`` when given.
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
    if not is_boundary(text, start):
        errors["start"] = ["Splits a character from its combining mark or joiner."]
    if not is_boundary(text, end):
        errors["end"] = ["Splits a character from its combining mark or joiner."]
    if client_text is not None and client_text != text[start:end]:
        errors["text"] = [f"Does not match the document text at {start}-{end}: "
                          f"{text[start:end][:80]!r}."]
    return errors


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
