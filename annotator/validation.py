"""The rules every value from a request obeys before any service sees it.

- Text: no NUL character (PostgreSQL cannot store one in text or JSONB) and no lone surrogate
  (it cannot be encoded as UTF-8 anywhere). JSON bodies are checked field by field by the
  marshmallow fields in :mod:`annotator.schemas`; query strings, path segments and page forms
  by :func:`check_request_values`, for every endpoint at once. Document text keeps the import's
  own rules, which answer by line number.
- Integers: an id fits the databases' 32-bit ``integer`` columns. A path id past that is 404,
  like any id that does not exist (:class:`IdConverter`, :func:`check_request_values`); a
  query or body integer past it is 422 naming the field (``Integer`` in the schemas).
"""

import re

from flask import request
from flask_smorest.spec.plugins import integerconverter2paramschema
from werkzeug.routing import IntegerConverter

from annotator.errors import Invalid
from annotator.errors import NotFound
from annotator.extensions import api

# PostgreSQL's integer (ids, counts, offsets); SQLite's are wider, so this is the bound of both.
MAX_INT = 2**31 - 1
MIN_INT = -(2**31)
# Far past any real list, small enough that page x page_size never overflows an OFFSET.
MAX_PAGE = 1_000_000

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
# Form fields whose text is an article: the import checks it and answers by line number.
OWN_TEXT_RULES = {("imports.upload", "text")}


def text_problem(value: str) -> str | None:
    """Return why ``value`` cannot be stored as text, or None when it can."""
    found = _BAD_TEXT.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "Must not contain the NUL character (U+0000)."
    return "Must not contain an unpaired surrogate (not valid Unicode)."


def json_text_problem(value) -> str | None:
    """Return why a JSON value (keys and strings at any depth) cannot be stored, or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if problem := text_problem(item):
                return problem
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def as_id(value) -> int | None:
    """Return ``value`` (an int or a string of ASCII digits) as an id, or None when it is none.

    ``"²"`` passes ``str.isdigit`` but not ``int``; ``"99999999999"`` is digits no row can have.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not (value.isascii() and value.isdigit()):
            return None
        value = int(value)
    return value if isinstance(value, int) and 0 <= value <= MAX_INT else None


class IdConverter(IntegerConverter):
    """``<int:...>`` in routes: a whole number from 0 to :data:`MAX_INT` (the OpenAPI says so).

    A larger one still matches the route, and :func:`check_request_values` answers 404: a
    converter that refused it would make werkzeug answer 405 for the route's other methods.
    """

    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, *args, **kwargs)
        self.max = MAX_INT

    def to_python(self, value: str) -> int:
        return int(value)


def check_request_values():
    """Refuse a request whose path, query string or form holds what cannot be stored.

    A path id past :data:`MAX_INT` or a path segment with such text answers 404 (no object has
    that id or name); a query or form field 422, naming the field. Runs before every view.

    :raise NotFound: for such a path.
    :raise Invalid: for such a query string or form field.
    """
    for value in (request.view_args or {}).values():
        if (isinstance(value, int) and value > MAX_INT) or (isinstance(value, str) and text_problem(value)):
            raise NotFound("Not found.")
    errors = {}
    sources = [request.args]
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        sources.append(request.form)
    for source in sources:
        for name, value in source.items(multi=True):
            if (request.endpoint, name) in OWN_TEXT_RULES:
                continue
            if problem := text_problem(value):
                errors.setdefault(name, []).append(problem)
            elif problem := text_problem(name):
                errors.setdefault("query", []).append(f"A parameter name: {problem[0].lower()}{problem[1:]}")
    if errors:
        raise Invalid("The request is not valid.", errors)


def init_app(app):
    """Bound route integers and check the request's text before every view.

    Called before any blueprint is registered: routes bind their converters when added.
    """
    app.url_map.converters["int"] = IdConverter
    api.register_converter(IdConverter, integerconverter2paramschema)
    app.before_request(check_request_values)
