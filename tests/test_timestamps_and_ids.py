"""Timestamps are one type (aware UTC; naive UTC text on SQLite) and ids are never reused.

Issue 10, defects 1 and 10: the bulk importer wrote ``+00:00`` where the ORM wrote naive values
on SQLite, and the progress dashboard died comparing them; SQLite reused the ids of deleted rows.
"""

import re
import secrets
from datetime import UTC
from datetime import datetime
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy import text

from annotator import create_app
from annotator.extensions import db
from annotator.models import Assignment
from annotator.models import Document
from annotator.models import Event
from annotator.models import Span
from tests.factories import make_project
from tests.factories import make_user
from tests.factories import token_for

MIGRATIONS = str(Path(__file__).parent.parent / "migrations")
NAIVE_UTC_TEXT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
TIME_COLUMNS = [(table.name, column.name) for table in db.metadata.sorted_tables
                for column in table.columns if column.type.__class__.__name__ == "UTCDateTime"]


def workflow(client, app):
    """Import one document with spans as an annotator, import a second one, assign it."""
    admin, amira = make_user("admin", role="admin"), make_user("amira")
    project = make_project(name="pilot", members=[amira])
    headers = token_for(admin)
    first = {"text": "Rockets hit Aleppo.", "spans": [{"start": 12, "end": 18, "label": "LOCATION"}]}
    response = client.post(f"/api/v1/projects/{project.id}/documents", headers=headers,
                           json={"documents": [first], "as_user": "amira"})
    assert response.status_code == 201, response.get_json()
    response = client.post(f"/api/v1/projects/{project.id}/documents", headers=headers,
                           json={"documents": [{"text": "Shelling near Homs."}]})
    assert response.status_code == 201, response.get_json()
    second = response.get_json()["document_ids"][0]
    response = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers,
                           json={"annotators": ["amira"], "per_document": 1, "documents": [second]})
    assert response.status_code == 201, response.get_json()
    return project, admin, amira, headers


def test_progress_after_bulk_import_and_orm_writes(app, client, login):
    project, _, amira, headers = workflow(client, app)
    response = client.get(f"/api/v1/projects/{project.id}/progress", headers=headers)
    assert response.status_code == 200, response.get_json()
    amira_row = next(row for row in response.get_json()["annotators"] if row["annotator"] == "amira")
    assert amira_row["last_activity"].endswith("+00:00")
    assert client.get(f"/api/v1/projects/{project.id}/progress.csv", headers=headers).status_code == 200
    login("admin")
    assert client.get(f"/admin/projects/{project.id}/progress").status_code == 200
    assert client.get(f"/admin/projects/{project.id}/progress.csv").status_code == 200


def test_timestamps_are_stored_in_one_format(app, client):
    workflow(client, app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            seen = 0
            for table, column in TIME_COLUMNS:
                for (value,) in db.session.execute(text(
                        f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL')):
                    assert NAIVE_UTC_TEXT.match(value), (table, column, value)
                    seen += 1
            assert seen > 10
        else:
            kinds = {row.data_type for row in db.session.execute(text(
                "SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND column_name IN ('created_at', 'updated_at', 'at', 'started_at')"))}
            assert kinds == {"timestamp with time zone"}
        # Python always sees aware UTC, whichever path wrote the row.
        for moment in db.session.scalars(select(Document.created_at)).all() + \
                db.session.scalars(select(Span.updated_at)).all():
            assert moment.tzinfo is not None and moment.utcoffset().total_seconds() == 0


def test_sql_comparisons_and_order_stay_chronological(app, client):
    workflow(client, app)
    with app.app_context():
        events = db.session.scalars(select(Event).order_by(Event.at)).all()
        assert [e.at for e in events] == sorted(e.at for e in events)
        middle = events[len(events) // 2].at
        later = db.session.scalars(select(Event).where(Event.at >= middle)).all()
        assert {e.id for e in later} == {e.id for e in events if e.at >= middle}
        # A naive bound is UTC; an aware one in another zone is converted first.
        assert db.session.scalar(select(Event.id).where(Event.at > datetime(2999, 1, 1))) is None
        eastern = middle.astimezone(datetime.now(UTC).astimezone().tzinfo)
        assert len(db.session.scalars(select(Event).where(Event.at >= eastern)).all()) == len(later)


def test_api_answers_timestamps_with_an_offset(app, client):
    _, _, amira, _ = workflow(client, app)
    items = client.get("/api/v1/me/assignments", headers=token_for(amira)).get_json()
    assert items and all(item["updated_at"].endswith("+00:00") for item in items)
    admin_headers = token_for(make_user("other-admin", role="admin"))
    for user in client.get("/api/v1/users", headers=admin_headers).get_json():
        assert user["created_at"].endswith("+00:00")


def test_jsonl_updated_at_keeps_its_z_form(app, client):
    project, _, amira, headers = workflow(client, app)
    with app.app_context():
        db.session.execute(Assignment.__table__.update().values(status="submitted"))
        db.session.commit()
    lines = client.get(f"/api/v1/projects/{project.id}/export", headers=headers).get_data(as_text=True)
    stamps = re.findall(r'"updated_at": "([^"]+)"', lines)
    assert stamps and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s) for s in stamps)


def test_ids_of_deleted_rows_are_never_reused(app, client):
    admin = make_user("admin", role="admin")
    amira, bruno = make_user("amira"), make_user("bruno")
    project = make_project(name="pilot", members=[amira, bruno])
    headers = token_for(admin)
    ids = client.post(f"/api/v1/projects/{project.id}/documents", headers=headers,
                      json={"documents": [{"text": "One."}, {"text": "Two."}]}).get_json()["document_ids"]
    created = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers,
                          json={"annotators": ["amira"], "per_document": 1, "documents": [ids[1]]})
    stale = created.get_json()["assignments"][0]["id"]
    assert client.delete(f"/api/v1/assignments/{stale}", headers=headers).status_code == 204
    created = client.post(f"/api/v1/projects/{project.id}/assignments", headers=headers,
                          json={"annotators": ["bruno"], "per_document": 1, "documents": [ids[1]]})
    newer = created.get_json()["assignments"][0]["id"]
    assert newer > stale
    # A stale DELETE of the old id finds nothing; the newer assignment stays.
    assert client.delete(f"/api/v1/assignments/{stale}", headers=headers).status_code == 404
    with app.app_context():
        assert db.session.get(Assignment, newer) is not None
    # The bulk importer reserves past every id ever given too, not only past the rows left.
    with app.app_context():
        db.session.execute(Document.__table__.delete().where(Document.id == ids[1]))
        db.session.commit()
    again = client.post(f"/api/v1/projects/{project.id}/documents", headers=headers,
                        json={"documents": [{"text": "Three."}]}).get_json()["document_ids"]
    assert again[0] > ids[1]


def old_style_rows(connection):
    """Rows as the importer of revision 0001 wrote them on SQLite: ISO text with an offset."""
    stamp = "2026-11-27 10:00:00.123456+00:00"
    east = "2026-11-27T12:30:00+02:30"
    connection.execute(text(
        "INSERT INTO user (id, username, password_hash, role, active, session_epoch, created_at) "
        f"VALUES (1, 'amira', 'x', 'annotator', 1, 0, '{stamp}'), (3, 'bruno', 'x', 'annotator', 1, 0, "
        "'2026-11-27 09:00:00.000000')"))
    connection.execute(text(
        "INSERT INTO project (id, name, guidelines, schema, schema_version, assignment_mode, per_document, "
        f"claim_timeout_minutes, created_at) VALUES (1, 'p', '', '{{}}', 1, 'static', 1, 60, '{stamp}')"))
    connection.execute(text(
        "INSERT INTO document (id, project_id, external_id, text, text_sha256, meta, tokens, lang, created_at) "
        f"VALUES (1, 1, 'A', 'Rockets hit Aleppo.', 'h', '{{}}', '[]', 'en', '{east}')"))
    connection.execute(text(
        "INSERT INTO annotation_set (id, document_id, user_id, kind, version, created_at, updated_at) "
        f"VALUES (1, 1, 1, 'manual', 1, '{stamp}', '{stamp}')"))
    connection.execute(text(
        'INSERT INTO span (id, set_id, uuid, start, "end", label, attrs, created_at, updated_at) '
        f"VALUES (5, 1, 's1', 0, 7, 'WEAPON', '{{}}', '{stamp}', '{stamp}'), "
        f"(6, 1, 's2', 12, 18, 'LOCATION', '{{}}', '{stamp}', '{stamp}')"))
    connection.execute(text(
        "INSERT INTO relation (id, set_id, uuid, head_id, tail_id, label, attrs, created_at) "
        f"VALUES (1, 1, 'r1', 5, 6, 'place', '{{}}', '{stamp}')"))


def test_migration_0002_rewrites_sqlite_rows_and_keeps_them(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = create_app({"SECRET_KEY": secrets.token_hex(32), "SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="0001")
        with db.engine.begin() as connection:
            old_style_rows(connection)
        upgrade(directory=MIGRATIONS)
        with db.engine.connect() as connection:
            documents = connection.execute(text("SELECT id, created_at FROM document")).all()
            assert documents == [(1, "2026-11-27 10:00:00.000000")]
            spans = connection.execute(text("SELECT id, created_at FROM span ORDER BY id")).all()
            assert spans == [(5, "2026-11-27 10:00:00.123456"), (6, "2026-11-27 10:00:00.123456")]
            assert connection.execute(text("SELECT created_at FROM user WHERE id = 3")).scalar() == \
                "2026-11-27 09:00:00.000000"
            assert connection.execute(text("SELECT head_id, tail_id FROM relation")).all() == [(5, 6)]
            assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            tables = connection.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%'")).all()
            assert {name for name, _ in tables} >= {"user", "document", "assignment", "span", "relation", "event"}
            # The indexes came back with their tables.
            assert {i["name"] for i in inspect(connection).get_indexes("assignment")} >= {
                "ix_assignment_document_id", "ix_assignment_user_status"}
        # The next span gets a new id, not a reused one: AUTOINCREMENT took over from the rows.
        with db.engine.begin() as connection:
            connection.execute(text("DELETE FROM span WHERE id = 6"))
            connection.execute(text(
                'INSERT INTO span (set_id, uuid, start, "end", label, attrs, created_at, updated_at) '
                "VALUES (1, 's3', 12, 18, 'LOCATION', '{}', '2026-11-28 00:00:00.000000', "
                "'2026-11-28 00:00:00.000000')"))
            assert connection.execute(text("SELECT max(id) FROM span")).scalar() == 7
        db.engine.dispose()
