"""Tokenizing stored documents again, so that old documents get the tokens an import gives now."""

from contextlib import nullcontext
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy import update

from annotator.extensions import db
from annotator.extensions import write_transaction
from annotator.models import Document
from annotator.models import Project
from annotator.services.text import tokenize_many


@dataclass
class RetokenizeReport:
    """What :func:`retokenize_documents` did: documents checked, and those whose tokens changed."""

    checked: int = 0
    changed: int = 0
    dry_run: bool = False


def retokenize_documents(project: Project | None = None, *, dry_run: bool = False,
                         batch_size: int = 500) -> RetokenizeReport:
    """Tokenize stored documents again and store the tokens that differ; return the counts.

    Documents stored before tokens kept grapheme clusters whole have spaCy's own tokens, which
    split flags, ZWJ sequences and skin tones; they get the tokens an import gives now. Only
    documents whose tokens differ are written, all in one transaction, so a second run changes
    nothing. The text is read a batch at a time, by id.

    :param project: only this project's documents; every project's when None.
    :param dry_run: count what would change and store nothing.
    """
    report = RetokenizeReport(dry_run=dry_run)
    query = select(Document.id, Document.text, Document.lang, Document.tokens).order_by(Document.id)
    if project is not None:
        query = query.where(Document.project_id == project.id)
    last_id = 0
    # A dry run only reads: it need not wait for (or hold up) SQLite's writer.
    with nullcontext(db.session) if dry_run else write_transaction() as session:
        while rows := session.execute(query.where(Document.id > last_id).limit(batch_size)).all():
            last_id = rows[-1].id
            by_lang: dict[str, list] = {}
            for row in rows:
                by_lang.setdefault(row.lang or "en", []).append(row)
            for lang, group in by_lang.items():
                for row, tokens in zip(group, tokenize_many([row.text for row in group], lang), strict=True):
                    report.checked += 1
                    if tokens == row.tokens:
                        continue
                    report.changed += 1
                    if not dry_run:
                        session.execute(update(Document).where(Document.id == row.id).values(tokens=tokens))
    return report
