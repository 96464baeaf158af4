"""Extension objects, created unbound and bound to the app in ``create_app``."""

import fcntl
import os
import threading
from contextlib import contextmanager

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

# Predictable constraint names, so Alembic can alter and drop them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Objects stay readable after commit: services return what they stored without a re-read.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
api = Api()


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record):
    """Turn on WAL, a busy timeout and foreign keys for every SQLite connection.

    The driver's own transaction handling is switched off (isolation_level=None) so that
    :func:`_begin_sqlite` decides how each transaction begins (SQLAlchemy's documented recipe
    for pysqlite).
    """
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL: an acknowledged write survives a power loss too, not only a crash (docs/security.md 5.1).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin_sqlite(conn):
    """Begin SQLite transactions; write transactions take the write lock at once.

    A deferred transaction that reads and then writes cannot be upgraded once another writer
    has committed, and fails with "database is locked" despite the busy timeout; BEGIN
    IMMEDIATE waits for the lock up front instead (docs/security.md 5.1).
    """
    if conn.dialect.name != "sqlite":
        return
    immediate = conn.get_execution_options().get("sqlite_immediate")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction():
    """Run the block in one write transaction and commit it, or roll everything back.

    On SQLite the request's read transaction (loading the user, say) is ended first and the
    write starts with BEGIN IMMEDIATE, so every rule is checked against the state the write
    commits on. On PostgreSQL the transaction simply goes on: under READ COMMITTED each
    statement sees the latest committed rows, and the services lock the rows they change
    (``FOR UPDATE``), which saves a reconnect and a re-read of the user per write.
    """
    session = db.session
    if db.engine.dialect.name != "sqlite":
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return
    session.rollback()
    with _sqlite_writer_queue(db.engine):
        session.connection(execution_options={"sqlite_immediate": True})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


_thread_lock = threading.Lock()
_lock_files: dict[str, int] = {}


@contextmanager
def _sqlite_writer_queue(engine):
    """Queue this process's SQLite writers behind a file lock, so they wait without polling.

    SQLite lets one writer in at a time; the others retry on a sleep schedule (busy_timeout)
    that grows to 100 ms between tries, so under load a waiting writer sleeps long after the
    lock is free. An exclusive ``flock`` on a file next to the database wakes the next writer
    the moment the previous one commits. BEGIN IMMEDIATE still guards the database itself.
    Threads of one process share the file, so they queue on a thread lock first.
    """
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        yield
        return
    with _thread_lock:
        fd = _lock_files.get(path)
        if fd is None:
            fd = _lock_files[path] = os.open(path + ".writelock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
