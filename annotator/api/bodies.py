"""Request bodies: the API takes JSON where it says so, and parses it strictly.

webargs' own Flask parser treats a body that is not labelled JSON as no body at all (a JSON
body sent as ``text/plain`` got "Missing data for required field."), accepts ``NaN`` and
``Infinity``, and answers bad JSON with ``{"json": [...]}`` that the error handler used to
flatten into a list. :class:`BodyParser` reads every ``@blp.arguments`` body instead:

- a body that is not ``application/json`` (or ``application/*+json``): 415;
- bad UTF-8, bad JSON, NaN, nesting too deep: 400 with ``errors: {"json": [...]}``;
- no body at all: absent, so the schema names the missing fields (422).

The document import takes multipart too and reads its body itself, with :func:`load_json`.
"""

from webargs import core
from webargs.flaskparser import FlaskParser

from annotator.errors import AnnotatorError
from annotator.errors import UnsupportedMediaType
from annotator.services.importing import readers


def load_json(data: bytes):
    """Parse a request body as strict JSON (no NaN or Infinity, bounded nesting).

    :raise AnnotatorError: 400 with ``errors: {"json": [reason]}``.
    """
    try:
        return readers.loads(readers.decode_utf8(data))
    except ValueError as error:
        # The reason is a sentence for people already ("Not valid JSON: ... (column 9).").
        raise AnnotatorError(str(error), {"json": [str(error)]}) from None


def unsupported(mimetype: str, accepted: str = "application/json") -> UnsupportedMediaType:
    """Return the 415 for a body of type ``mimetype`` where only ``accepted`` is taken."""
    sent = f"not {mimetype}" if mimetype else "and it is missing"
    return UnsupportedMediaType(f"Send the body as {accepted} (Content-Type header).",
                                {"Content-Type": [f"Must be {accepted}, {sent}."]})


class BodyParser(FlaskParser):
    """webargs' Flask parser, with JSON bodies read as the module docstring says."""

    def _raw_load_json(self, req):
        if not core.is_json(req.mimetype):
            # A form body is already parsed (and its stream read) by the CSRF check, so the
            # label decides; a body without any label is refused only when there is one.
            if req.mimetype or req.get_data(cache=True):
                raise unsupported(req.mimetype)
            return core.missing
        data = req.get_data(cache=True)
        if not data.strip():
            return core.missing
        return load_json(data)
