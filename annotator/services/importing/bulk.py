"""Bulk writing of import rows: COPY on PostgreSQL, executemany on SQLite, ids reserved up front."""

from sqlalchemy import text

from annotator.models import Document
from annotator.models import now_utc


class Writer:
    """Inserts rows with ``COPY`` on PostgreSQL and ``executemany`` on SQLite, ids reserved up front.

    SQLAlchemy's bulk insert built each row's parameters in Python and spent more time there
    than the database spent storing them (bench/import.py); the rows here are plain tuples.
    Ids are reserved so that spans, relations and assignments can name their parents without
    a RETURNING round trip: from the sequence on PostgreSQL, and after the highest id on
    SQLite, where the import's BEGIN IMMEDIATE transaction holds the only write lock.
    """

    def __init__(self, session):
        self.connection = session.connection()
        self.dialect = self.connection.dialect
        self.postgres = self.dialect.name == "postgresql"
        self.dbapi = self.connection.connection.dbapi_connection
        self._to_db_time = Document.__table__.c.created_at.type.bind_processor(self.dialect)
        self._next: dict[str, int] = {}
        self._sequences: dict[str, str] = {}
        if self.postgres and self.connection.execute(text(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")).scalar():
            # The tokens (a few KiB of JSON per document) are compressed when stored; pglz took
            # longer than everything else the server does for a document. Reading is the same.
            self.connection.execute(text("SET LOCAL default_toast_compression = 'lz4'"))

    def now(self):
        # The column type's own conversion (naive UTC text on SQLite), done once for all rows.
        return self._to_db_time(now_utc())

    def reserve(self, table: str, count: int) -> list[int]:
        if self.postgres:
            with self.dbapi.cursor() as cursor:
                if table not in self._sequences:
                    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,))
                    self._sequences[table] = cursor.fetchone()[0]
                cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)",
                               (self._sequences[table], count))
                return [row[0] for row in cursor]
        start = self._next.get(table)
        if start is None:
            # Past every id ever given (AUTOINCREMENT's counter), not only past the rows left.
            start = self.connection.execute(text(
                f'SELECT MAX(COALESCE(MAX(id), 0), COALESCE((SELECT seq FROM sqlite_sequence '
                f"WHERE name = '{table}'), 0)) + 1 FROM \"{table}\"")).scalar()
        self._next[table] = start + count
        return list(range(start, start + count))

    def insert(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        """Insert ``rows``; JSON columns take JSON text."""
        names = ", ".join(f'"{c}"' for c in columns)
        cursor = self.dbapi.cursor()
        try:
            if self.postgres:
                # COPY costs the server a fraction of row-by-row INSERTs; in text format the
                # JSON text goes into jsonb columns as it is.
                with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                markers = ", ".join("?" * len(columns))
                cursor.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({markers})', rows)
        finally:
            cursor.close()
