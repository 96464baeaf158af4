"""HTML: one page; its main text is the document, its title, date and URL go into ``meta``."""

import re
from pathlib import PurePosixPath

from annotator.services.importing.base import Unreadable
from annotator.services.importing.base import bad_character
from annotator.services.importing.readers.common import decode_utf8

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)


def read_html(data: bytes, name: str | None = None) -> dict | Unreadable:
    """Return the main text of an HTML page as a record, with title, date and URL in ``meta``.

    The page is decoded as UTF-8, or strictly in the charset its ``<meta>`` declares; a page
    in neither is refused rather than guessed at. trafilatura drops navigation, footers and
    comments; a page with nothing left is an error.
    """
    import trafilatura  # imported here: it is slow to import and only HTML needs it

    try:
        html = decode_utf8(data)
    except ValueError as error:
        declared = _CHARSET.search(data[:4096])
        try:
            html = data.decode(declared.group(1).decode("ascii")) if declared else None
        except (LookupError, UnicodeDecodeError):
            html = None
        if html is None:
            return Unreadable(f"{error} The page declares no charset that decodes it.")
    html = html.removeprefix("\ufeff")
    if problem := bad_character(html):
        return Unreadable(f"The page {problem}")
    try:
        found = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False,
                                            favor_precision=True)
    except Exception as error:  # noqa: BLE001 - a parser failure on hostile markup is bad input
        return Unreadable(f"The HTML could not be parsed ({type(error).__name__}).")
    text = getattr(found, "text", None) if found is not None else None
    if not text or not text.strip():
        return Unreadable("No main text found: the page seems to hold only navigation, "
                          "menus or footers.")
    meta = {}
    for key in ("title", "date", "url", "author", "sitename"):
        value = getattr(found, key, None)
        if isinstance(value, str) and value.strip():
            meta[key] = value
    if name:
        meta["source_file"] = PurePosixPath(name).name
    return {"text": text, "meta": meta}
