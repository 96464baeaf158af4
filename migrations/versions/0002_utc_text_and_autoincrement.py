"""SQLite: timestamps in one format, ids never reused

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

On SQLite the bulk importer wrote timestamps as ISO text with an offset
(``2026-11-27 10:00:00.123456+00:00``) where the ORM wrote naive UTC
(``2026-11-27 10:00:00.123456``); text comparison then mixed the two orders. Every stored
timestamp is rewritten to the ORM's naive UTC form. And SQLite reused the ids of deleted rows,
so every table with an id is rebuilt with AUTOINCREMENT, keeping its rows, ids and indexes.
PostgreSQL already stores ``timestamptz`` and never reuses sequence values: nothing to do there.
"""
import re
from datetime import UTC
from datetime import datetime

from alembic import op
from sqlalchemy import text

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# Parents before children, so that the foreign-key check at the end covers every table.
TABLES = ("project", "user", "api_token", "login_session", "document", "assignment",
          "annotation_set", "span", "relation", "event")
TIMESTAMPS = {
    "project": ("created_at",),
    "user": ("created_at",),
    "api_token": ("created_at", "last_used_at"),
    "login_session": ("created_at",),
    "project_member": ("created_at",),
    "document": ("created_at",),
    "assignment": ("claim_expires_at", "created_at", "updated_at", "started_at", "finished_at"),
    "annotation_set": ("created_at", "updated_at"),
    "span": ("created_at", "updated_at"),
    "relation": ("created_at",),
    "event": ("at",),
}
ID_COLUMN = re.compile(r"^(\s*)id INTEGER NOT NULL,", re.MULTILINE)
PRIMARY_KEY = re.compile(r"^\s*CONSTRAINT pk_\w+ PRIMARY KEY \(id\),\s*\n", re.MULTILINE)


def naive_utc(value: str) -> str:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def rewrite_timestamps(bind):
    for table, columns in TIMESTAMPS.items():
        for column in columns:
            # Only values that are not already in the naive form: those with an offset or a 'T'.
            rows = bind.execute(text(
                f'SELECT rowid, "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL '
                f"AND (\"{column}\" LIKE '%+%' OR \"{column}\" LIKE '%Z' OR \"{column}\" LIKE '%T%' "
                f"OR length(\"{column}\") <> 26)")).all()
            for rowid, value in rows:
                bind.execute(text(f'UPDATE "{table}" SET "{column}" = :value WHERE rowid = :rowid'),
                             {"value": naive_utc(value), "rowid": rowid})


def rebuild_with_autoincrement(bind, table):
    create = bind.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                          {"t": table}).scalar_one()
    if "AUTOINCREMENT" in create:
        return
    indexes = bind.execute(text("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t "
                                "AND sql IS NOT NULL"), {"t": table}).scalars().all()
    new = ID_COLUMN.sub(r"\1id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,", create, count=1)
    new = PRIMARY_KEY.sub("", new, count=1)
    if new == create or "AUTOINCREMENT" not in new:
        raise RuntimeError(f"unexpected definition of table {table}: {create}")
    new = re.sub(r'^CREATE TABLE "?\w+"? \(', f'CREATE TABLE "_new_{table}" (', new, count=1)
    bind.execute(text(new))
    bind.execute(text(f'INSERT INTO "_new_{table}" SELECT * FROM "{table}"'))
    bind.execute(text(f'DROP TABLE "{table}"'))
    bind.execute(text(f'ALTER TABLE "_new_{table}" RENAME TO "{table}"'))
    for index in indexes:
        bind.execute(text(index))


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if bind.execute(text("PRAGMA foreign_keys")).scalar():
        raise RuntimeError("foreign keys must be off while tables are rebuilt (migrations/env.py does it)")
    rewrite_timestamps(bind)
    for table in TABLES:
        rebuild_with_autoincrement(bind, table)
    broken = bind.execute(text("PRAGMA foreign_key_check")).all()
    if broken:
        raise RuntimeError(f"foreign keys broken by the rebuild: {broken[:5]}")


def downgrade():
    # AUTOINCREMENT and one timestamp format are what the code expects; there is no way back.
    raise NotImplementedError("0002 cannot be undone")
