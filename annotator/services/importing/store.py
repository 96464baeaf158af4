"""Storing checked records within the import's transaction: dedupe, then documents, sets, assignments.

A record whose text is already in the project is a duplicate, unless it brings a set the
document does not have yet; then that set (with its spans, relations and the owner's
assignment) is added. The rows go through :class:`~.bulk.Writer`.
"""

from sqlalchemy import select
from sqlalchemy import update

from annotator.choices import FINISHED_STATUSES
from annotator.models import AnnotationSet
from annotator.models import Assignment
from annotator.models import Document
from annotator.models import Project
from annotator.models import now_utc
from annotator.services.importing.base import Prepared
from annotator.services.importing.bulk import Writer
from annotator.services.importing.records import add_tokens
from annotator.services.importing.report import ImportReport


class Store:
    """Dedupes and stores batches of prepared records within the import's transaction."""

    def __init__(self, session, project: Project, report: ImportReport, skip_invalid: bool):
        self.session, self.project, self.report, self.skip_invalid = session, project, report, skip_invalid
        self.created: dict[bytes, int] = {}  # digest -> document id (0 while not stored)
        self.external: dict[str, bytes] = {}  # external id -> digest, for this import
        self.owned: set[tuple] = set()  # (digest, owner) of the sets stored by this import
        self._writer: Writer | None = None

    @property
    def storing(self) -> bool:
        # Once a record is invalid in an atomic import nothing will be kept: only check.
        return self.skip_invalid or not self.report.error_count

    def flush(self, batch: list[Prepared]) -> None:
        if not batch:
            return
        session, project_id = self.session, self.project.id
        shas = {item.sha for item in batch}
        in_db = dict(session.execute(select(Document.text_sha256, Document.id).where(
            Document.project_id == project_id, Document.text_sha256.in_(shas))).all())
        ext_ids = {item.external_id for item in batch if item.external_id is not None}
        ext_in_db = dict(session.execute(select(Document.external_id, Document.text_sha256).where(
            Document.project_id == project_id, Document.external_id.in_(ext_ids))).all()) if ext_ids else {}
        owned_in_db: set[tuple] = set()
        assigned_in_db: dict[tuple, str] = {}
        if in_db:
            sha_of = {doc_id: sha for sha, doc_id in in_db.items()}
            for doc_id, user_id, kind in session.execute(select(
                    AnnotationSet.document_id, AnnotationSet.user_id, AnnotationSet.kind).where(
                    AnnotationSet.document_id.in_(sha_of))):
                owned_in_db.add((bytes.fromhex(sha_of[doc_id]), (kind, user_id)))
            for doc_id, user_id, status in session.execute(select(
                    Assignment.document_id, Assignment.user_id, Assignment.status).where(
                    Assignment.document_id.in_(sha_of))):
                assigned_in_db[(doc_id, user_id)] = status
        new_docs: list[Prepared] = []
        sets: list[tuple[Prepared, bytes]] = []
        duplicates: list[tuple[Prepared, int | None, bytes]] = []
        for item in batch:
            digest = bytes.fromhex(item.sha)
            existing = in_db.get(item.sha)
            known = existing is not None or digest in self.created
            if not known:
                other = ext_in_db.get(item.external_id) if item.external_id is not None else None
                other = other or self.external.get(item.external_id)
                if item.external_id is not None and other is not None:
                    self.report.add_error(item.location, [
                        f"external id {item.external_id!r} is already used by another document."])
                    continue
                if item.external_id is not None:
                    self.external[item.external_id] = digest
                self.created[digest] = 0
                new_docs.append(item)
                if item.owner is not None:
                    sets.append((item, digest))
                    self.owned.add((digest, item.owner))
                continue
            if item.owner is None or (digest, item.owner) in self.owned or (digest, item.owner) in owned_in_db:
                duplicates.append((item, existing, digest))
                continue
            self.owned.add((digest, item.owner))
            sets.append((item, digest))
        if self.storing:
            self._insert_documents(new_docs)
            ids = dict(self.created)
            ids.update((bytes.fromhex(sha), doc_id) for sha, doc_id in in_db.items())
            self._insert_sets(sets, ids, assigned_in_db)
        # Reported once stored, so that a duplicate of a record of this batch names its id.
        for item, existing, digest in duplicates:
            self.report.add_duplicate(item, existing or self.created.get(digest))

    def _insert_documents(self, items: list[Prepared]) -> None:
        if not items:
            return
        add_tokens([item for item in items if item.tokens is None])
        writer = self.writer
        ids = writer.reserve("document", len(items))
        project_id, now = self.project.id, writer.now()
        writer.insert("document", ("id", "project_id", "external_id", "text", "text_sha256", "meta", "tokens",
                                   "lang", "created_at"),
                      [(doc_id, project_id, item.external_id, item.text, item.sha, item.meta,
                        item.tokens, item.lang, now)
                       for item, doc_id in zip(items, ids, strict=True)])
        for item, doc_id in zip(items, ids, strict=True):
            self.created[bytes.fromhex(item.sha)] = doc_id
        self.report.document_ids.extend(ids)
        self.report.created += len(ids)

    def _insert_sets(self, sets: list[tuple[Prepared, bytes]], ids: dict[bytes, int],
                     assigned_in_db: dict[tuple, str]) -> None:
        if not sets:
            return
        writer = self.writer
        now = writer.now()
        set_ids = writer.reserve("annotation_set", len(sets))
        writer.insert("annotation_set", ("id", "document_id", "user_id", "kind", "version", "created_at",
                                         "updated_at"),
                      [(set_id, ids[digest], item.owner[1], item.owner[0], 1, now, now)
                       for (item, digest), set_id in zip(sets, set_ids, strict=True)])
        self.report.annotation_sets += len(set_ids)
        span_count = sum(len(item.spans) for item, _ in sets)
        span_ids = iter(writer.reserve("span", span_count)) if span_count else iter(())
        span_rows, relation_rows = [], []
        for (item, _), set_id in zip(sets, set_ids, strict=True):
            by_uuid = {}
            for span in item.spans:
                span_id = next(span_ids)
                by_uuid[span["uuid"]] = span_id
                span_rows.append((span_id, set_id, span["uuid"], span["start"], span["end"], span["label"],
                                  span["attrs"], now, now))
            relation_rows.extend((set_id, relation["uuid"], by_uuid[relation["head"]], by_uuid[relation["tail"]],
                                  relation["label"], relation["attrs"], now) for relation in item.relations)
        if span_rows:
            writer.insert("span", ("id", "set_id", "uuid", "start", "end", "label", "attrs", "created_at",
                                   "updated_at"), span_rows)
        if relation_rows:
            writer.insert("relation", ("set_id", "uuid", "head_id", "tail_id", "label", "attrs", "created_at"),
                          relation_rows)
        assignment_rows = []
        promote = []
        for item, digest in sets:
            kind, user_id = item.owner
            if kind != "manual":
                continue
            key = (ids[digest], user_id)
            status = assigned_in_db.get(key)
            if status is None:
                finished = now if item.status in FINISHED_STATUSES else None
                assignment_rows.append((key[0], user_id, item.status, now, finished, now, now))
                assigned_in_db[key] = item.status
            elif status == "assigned":
                promote.append(key)
        if assignment_rows:
            writer.insert("assignment", ("document_id", "user_id", "status", "started_at", "finished_at",
                                         "created_at", "updated_at"), assignment_rows)
        for document_id, user_id in promote:
            self.session.execute(update(Assignment).where(
                Assignment.document_id == document_id, Assignment.user_id == user_id,
                Assignment.status == "assigned").values(status="in_progress", started_at=now_utc(),
                                                        updated_at=now_utc()))

    @property
    def writer(self) -> "Writer":
        if self._writer is None:
            self._writer = Writer(self.session)
        return self._writer
