"""Importing documents: validate records, normalise text, tokenize, dedupe, store with their spans.

A record is ``{text, id|external_id?, meta?, spans?, relations?}``, the format of the sample
corpus: spans are ``{start, end, text?, label, attrs?, id?}`` with offsets into the record's
text as given (before normalisation), relations are ``{head, tail, label, id?, attrs?}``
whose ends are span indices in the record or span ids. The JSONL export record (docs/design.md
section 7) is a record too: its ``schema_version``, ``text_sha256`` (checked), ``lang``,
``offsets`` (must be code points, end-exclusive), ``annotator`` and ``status`` are read;
``project``, ``document_id``, ``tokens`` and ``updated_at`` and the spans' ``token_start``,
``token_end`` and ``utf16`` are derived data, accepted and recomputed.

Whose spans: ``as_user`` (a project member) takes every record's spans as their manual set,
with an in-progress assignment; else ``suggestions`` makes them suggestions; else an export
record's ``annotator`` (a member) gets them back with the record's status. A record whose
text is already in the project is a duplicate, unless it brings a set the document does not
have yet (the second annotator of an export): then that set is added to the document.

The import is atomic by default: one invalid record rejects the whole input, every error is
listed by line, and nothing is stored. With ``skip_invalid`` the valid records are stored and
the rest reported. Records stream through in batches inside one transaction, so memory does
not grow with the file, and a failure at any point rolls everything back. Large imports check
and tokenize in worker processes while the importing process stores (:mod:`.pool`).

The parts: :mod:`.readers` turn files into records, :mod:`.records` checks one record,
:mod:`.pool` checks batches (in worker processes past a threshold), :mod:`.store` dedupes and
stores them through :mod:`.bulk`, and :mod:`.report` says what happened.
"""

import gc
import os
import time
from collections.abc import Callable
from collections.abc import Iterable
from contextlib import closing
from contextlib import contextmanager
from typing import Any

from flask import current_app
from flask import has_app_context
from sqlalchemy import select

from annotator.errors import Invalid
from annotator.extensions import db
from annotator.extensions import write_transaction
from annotator.models import Project
from annotator.models import ProjectMember
from annotator.models import User
from annotator.services import audit
from annotator.services.importing.pool import BATCH_SIZE
from annotator.services.importing.pool import POOL_THRESHOLD
from annotator.services.importing.pool import iter_checked
from annotator.services.importing.records import make_context
from annotator.services.importing.records import prepare_record
from annotator.services.importing.records import text_sha256
from annotator.services.importing.report import ImportReport
from annotator.services.importing.retokenize import RetokenizeReport
from annotator.services.importing.retokenize import retokenize_documents
from annotator.services.importing.store import Store

__all__ = ["BATCH_SIZE", "POOL_THRESHOLD", "ImportReport", "RetokenizeReport", "config_max_chars",
           "find_import_user", "import_records", "prepare_record", "retokenize_documents", "text_sha256"]


def config_max_chars() -> int:
    """Return the configured document size limit (MAX_DOCUMENT_CHARS)."""
    if has_app_context():
        return int(current_app.config.get("MAX_DOCUMENT_CHARS", 1_000_000))
    return 1_000_000


def find_import_user(project: Project, username: str | None) -> User | None:
    """Return the member of ``project`` named ``username`` (None when no name is given).

    :raise Invalid: when there is no such member (an unknown user reads the same).
    """
    if not username:
        return None
    user = db.session.scalar(
        select(User).join(ProjectMember, ProjectMember.user_id == User.id)
        .where(ProjectMember.project_id == project.id, User.username == username))
    if user is None:
        raise Invalid("The annotator is not a member of the project.",
                      {"as_user": [f"{username} is not a member of this project."]})
    return user


def import_records(project: Project, records: Iterable[tuple[Any, object]], *, as_user: User | None = None,
                   suggestions: bool = False, skip_invalid: bool = False, actor=None,
                   max_chars: int | None = None, clean: bool = False,
                   progress: Callable[["ImportReport"], None] | None = None,
                   batch_size: int = BATCH_SIZE, pool_threshold: int = POOL_THRESHOLD) -> ImportReport:
    """Import ``(location, record)`` pairs into ``project`` and return the report.

    Records are read lazily, checked, and stored ``batch_size`` at a time inside one
    transaction; the reading, checking and storing of the whole input commit together or not
    at all. Past ``pool_threshold`` records, the checking and tokenizing go to worker
    processes (see :func:`.pool.iter_checked`); this process still reads, dedupes and stores.

    :param as_user: a project member whose manual annotation set the records' spans become
        (they get an in-progress assignment).
    :param suggestions: without ``as_user``, store the spans as suggestions.
    :param clean: drop boilerplate lines from each text (see :func:`.cleaning.clean`).
    :param max_chars: the longest text accepted; MAX_DOCUMENT_CHARS by default.
    :param progress: called with the report after each stored batch.
    :raise Invalid: when a record is invalid and ``skip_invalid`` is not set (the errors are
        keyed by location and nothing is stored), when ``as_user`` is not a member, or when
        the input cannot be read at all (:class:`~annotator.services.importing.base.ReadError`).
    """
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    report = ImportReport()
    max_chars = max_chars or config_max_chars()
    with _cyclic_gc_paused(), write_transaction() as session:
        members = dict(session.execute(
            select(User.username, User.id).join(ProjectMember, ProjectMember.user_id == User.id)
            .where(ProjectMember.project_id == project.id)).all())
        if as_user is not None and as_user.id not in members.values():
            raise Invalid("The annotator is not a member of the project.",
                          {"as_user": [f"{as_user.username} is not a member of this project."]})
        context = make_context(project.schema, max_chars, clean, getattr(as_user, "id", None), suggestions, members)
        store = Store(session, project, report, skip_invalid)
        # closing(): on an error the worker processes stop now, not when the traceback goes.
        with closing(iter_checked(records, context, batch_size, pool_threshold)) as checked_batches:
            for checked in checked_batches:
                batch = []
                for location, item, problems in checked:
                    report.records += 1
                    if problems:
                        report.add_error(location, problems)
                    else:
                        batch.append(item)
                store.flush(batch)
                if progress is not None:
                    progress(report)
        if report.error_count and not skip_invalid:
            raise Invalid(report.error_message(), report.errors)
        audit.record("document.import", project, actor=actor, project_id=project.id,
                     after={"created": report.created, "duplicates": report.duplicate_count,
                            "annotation_sets": report.annotation_sets, "invalid": report.error_count})
    report.seconds = time.perf_counter() - started
    report.cpu_seconds = _cpu_seconds() - cpu_started
    if progress is not None:
        progress(report)
    return report


def _cpu_seconds() -> float:
    """Return the CPU time of this process and of its finished worker processes."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@contextmanager
def _cyclic_gc_paused():
    """Pause the cycle collector while records stream through.

    An import allocates millions of small lists (tokens, rows) that are freed by reference
    counting; the cycle collector would otherwise walk the whole heap (spaCy's vocabulary
    included) again and again, which more than doubled the tokenizing time in bench/import.py.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
