"""The app factory, configuration, migrations, health and OpenAPI."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from openapi_spec_validator import validate

from annotator import create_app
from annotator.config import InsecureConfig
from annotator.config import from_env
from annotator.extensions import db


def test_app_refuses_to_start_without_a_secret_key():
    with pytest.raises(InsecureConfig):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_app_refuses_a_short_secret_key():
    with pytest.raises(InsecureConfig):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "changeme"})


def test_config_reads_the_instance_secret_key_and_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("ANNOTATOR_SECRET_KEY", raising=False)
    monkeypatch.delenv("ANNOTATOR_DATABASE_URL", raising=False)
    (tmp_path / "secret_key").write_text("k" * 48 + "\n")
    config = from_env(str(tmp_path))
    assert config["SECRET_KEY"] == "k" * 48
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'annotator.db'}"
    monkeypatch.setenv("ANNOTATOR_DATABASE_URL", "postgresql://u@h:5432/d")
    assert from_env(str(tmp_path))["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h:5432/d"


def test_models_and_migrations_agree(ctx):
    """Does `flask db upgrade` build exactly the tables the models declare?"""
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_with_foreign_keys(ctx, backend):
    if backend != "sqlite":
        assert db.engine.dialect.name == "postgresql"
        return
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_openapi_document_is_valid(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json
    validate(spec)
    assert "/api/v1/auth/token" in spec["paths"]
    assert "/api/v1/me" in spec["paths"]
