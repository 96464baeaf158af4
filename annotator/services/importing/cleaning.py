"""Cleaning scraped text: boilerplate lines ("Skip to main content", "Advertisement") dropped.

The import's optional ``clean`` step (:func:`~.records.prepare_record`) runs :func:`clean` on a
record's text and remaps its spans through the indices it returns.
"""

import re

_BOILERPLATE = re.compile(
    r"""^(?:
        skip\ to\ (?:the\ )?(?:main\ )?(?:content|navigation|article)
      | scroll\ (?:down\ )?to\ continue(?:\ with\ content)?(?:\ reading)?
      | (?:recommended|suggested|picked)\ for\ you | recommended(?:\ stories|\ articles)?
      | advertisements? | advert | ad | sponsored(?:\ content|\ links?)? | paid\ content
      | (?:story\ )?continues\ below(?:\ advertisement)? | article\ continues\ below
      | share(?:\ this)?(?:\ article|\ story|\ page|\ post)?(?:\ on\ [\w ]{1,20})?
      | (?:facebook|twitter|x|whatsapp|telegram|linkedin|reddit|email|e-mail|print|copy\ link)
        (?:[ ,|/·•]+(?:facebook|twitter|x|whatsapp|telegram|linkedin|reddit|email|e-mail|print|copy\ link))*
      | tweet | pin\ it
      | subscribe(?:\ now|\ today|\ here)?(?:\ to\ [\w ]{1,40})?
      | sign\ up(?:\ now)?(?:\ for\ [\w ]{0,30}newsletters?)? | (?:get\ )?our\ newsletter
      | newsletter\ sign[- ]?up | (?:sign|log)\ in(?:\ to\ continue)? | register
      | follow\ us(?:\ on\ [\w ,&]{1,40})?
      | read\ more | continue\ reading | read\ next | more\ stories | related(?:\ articles|\ stories|\ content)?
      | most\ (?:read|popular|viewed) | trending(?:\ now)? | you\ may\ also\ like | don'?t\ miss
      | (?:watch|listen)(?:\ now|\ live)? | back\ to\ top | close | menu | search
      | accept(?:\ all)?(?:\ cookies)? | we\ use\ cookies.{0,80}
    )[\s.:!…»›>|-]*$""",
    re.IGNORECASE | re.VERBOSE,
)


def is_boilerplate(line: str) -> bool:
    """Return whether ``line`` is a scraped-page prompt ("Skip to main content", "Advertisement")."""
    stripped = line.strip()
    return 0 < len(stripped) <= 120 and _BOILERPLATE.match(stripped) is not None


def clean(text: str) -> tuple[str, list[int]]:
    """Drop boilerplate lines and collapse runs of blank lines; return the text and what went.

    Works on whole lines only (split on ``\\n``, never on U+2028 or other separators), so no
    character inside a kept line changes. Blank lines at the start and the end go, and a blank
    line that follows another blank line goes. Returns the sorted code-point indices of the
    removed characters, for :class:`~annotator.services.text.OffsetMap`.
    """
    removed: list[int] = []
    kept: list[str] = []
    position = 0
    previous_blank = True  # blank lines at the start go
    lines = text.split("\n")
    last = len(lines) - 1
    pending_blank: tuple[int, str] | None = None
    for index, line in enumerate(lines):
        piece = line + ("\n" if index < last else "")
        start = position
        position += len(piece)
        if is_boilerplate(line):
            removed.extend(range(start, position))
            continue
        if not line.strip():
            if previous_blank or pending_blank is not None:
                removed.extend(range(start, position))
            else:
                pending_blank = (start, piece)
            continue
        if pending_blank is not None:
            kept.append(pending_blank[1])
            pending_blank = None
        previous_blank = False
        kept.append(piece)
    if pending_blank is not None:  # a blank line at the end goes too
        removed.extend(range(pending_blank[0], pending_blank[0] + len(pending_blank[1])))
    removed.sort()
    return "".join(kept), removed
