"""The flask commands: users, tokens and the demo."""

from sqlalchemy import func
from sqlalchemy import select

from annotator.extensions import db
from annotator.models import Document
from annotator.models import User
from annotator.services import users


def test_users_create_reads_the_password_twice_from_a_pipe(app, runner):
    result = runner.invoke(args=["users", "create", "amira", "--role", "reviewer"],
                           input="a long password\na long password\n")
    assert result.exit_code == 0, result.output
    assert "Created reviewer amira." in result.output
    with app.app_context():
        assert users.authenticate("amira", "a long password").role == "reviewer"


def test_users_create_refuses_different_passwords(app, runner):
    result = runner.invoke(args=["users", "create", "amira"], input="a long password\nanother one!!\n")
    assert result.exit_code != 0 and "differ" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_users_create_reports_a_weak_password(runner):
    result = runner.invoke(args=["users", "create", "amira"], input="short\nshort\n")
    assert result.exit_code == 1 and "password" in result.output


def test_users_token_prints_a_working_token(app, runner):
    runner.invoke(args=["users", "create", "amira"], input="a long password\na long password\n")
    result = runner.invoke(args=["users", "token", "amira"])
    assert result.exit_code == 0
    token = result.output.strip()
    me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json["username"] == "amira"


def test_demo_is_idempotent_and_prints_passwords_once(app, runner):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert first.output.count("password:") == 3
    assert "8 articles added" in first.output and "16 assignments made" in first.output
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0 and "password:" not in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Document)) == 8
    password = next(line.split("password: ")[1] for line in first.output.splitlines()
                    if " admin " in line and "password:" in line)
    client = app.test_client()
    response = client.post("/api/v1/auth/token", json={"username": "admin", "password": password})
    assert response.status_code == 201
