"""Accounts nobody can lose: admins stay, empty changes are refused, locked accounts unlock (issue 10).

Defect 2 (the last admin), 11 (an empty PATCH) and 12 (login limits per account and per address,
the wait shown, unlocking, and a key prefix per deployment).
"""

import re
import threading

import pytest
from sqlalchemy import func
from sqlalchemy import select

from annotator.config import ratelimit_prefix
from annotator.errors import Conflict
from annotator.errors import wait_message
from annotator.extensions import db
from annotator.models import ApiToken
from annotator.models import Event
from annotator.models import User
from annotator.services import users
from tests.conftest import Login
from tests.factories import PASSWORD
from tests.factories import make_user
from tests.factories import token_for

WRONG = "not the password"


def token_login(client, username, password=PASSWORD, address="127.0.0.1"):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def user_row(app, username) -> User:
    with app.app_context():
        return db.session.scalar(select(User).where(User.username == username))


def events(app, action) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Event).where(Event.action == action))


# --- Defect 2: nobody locks the admins out ---------------------------------------------------


def test_deactivating_yourself_through_the_api_is_409_and_changes_nothing(app, client):
    root = make_user("root", role="admin")
    make_user("boss", role="admin")  # another admin: the refusal is the self rule, not the last-admin one
    headers = token_for(root)
    response = client.patch("/api/v1/users/root", headers=headers, json={"active": False})
    assert response.status_code == 409
    assert response.json["message"] == "You cannot deactivate yourself; ask another admin."
    assert "active" in response.json["errors"]
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert user_row(app, "root").active is True
    assert events(app, "user.update") == 0


def test_demoting_yourself_is_409(app, client):
    root = make_user("root", role="admin")
    make_user("boss", role="admin")
    headers = token_for(root)
    response = client.patch("/api/v1/users/root", headers=headers, json={"role": "reviewer"})
    assert response.status_code == 409 and "role" in response.json["errors"]
    assert user_row(app, "root").role == "admin"
    # Naming your own current role changes nothing and is allowed.
    assert client.patch("/api/v1/users/root", headers=headers, json={"role": "admin"}).status_code == 200


def test_another_admin_may_deactivate_or_demote_an_admin(app, client):
    root = make_user("root", role="admin")
    make_user("boss", role="admin")
    make_user("chief", role="admin")
    headers = token_for(root)
    assert client.patch("/api/v1/users/boss", headers=headers, json={"role": "reviewer"}).status_code == 200
    assert client.patch("/api/v1/users/chief", headers=headers, json={"active": False}).status_code == 200
    assert (user_row(app, "boss").role, user_row(app, "chief").active) == ("reviewer", False)


@pytest.mark.parametrize("change", [{"active": False}, {"role": "annotator"}])
def test_the_last_active_admin_stays_an_active_admin(app, change):
    make_user("root", role="admin")
    make_user("retired", role="admin", active=False)  # an inactive admin does not count
    with app.app_context(), pytest.raises(Conflict) as caught:
        users.update_user("root", **change)  # as the CLI would: no actor, so only the last-admin rule
    assert caught.value.message == "root is the last active admin; make another admin first."
    assert set(caught.value.errors) == set(change)
    assert (user_row(app, "root").role, user_row(app, "root").active) == ("admin", True)
    # An inactive admin may still be demoted: it leaves the active admins as they were.
    with app.app_context():
        users.update_user("retired", role="reviewer")
    make_user("boss", role="admin")
    with app.app_context():
        users.update_user("root", **change)
    assert user_row(app, "boss").active is True


def test_two_admins_deactivating_each_other_at_once_leave_one_admin(app):
    make_user("ann", role="admin")
    make_user("bob", role="admin")
    barrier = threading.Barrier(2)
    outcomes = []

    def deactivate(actor_name, target):
        with app.app_context():
            actor = users.get_user(actor_name)
            db.session.rollback()  # both start from a clean transaction, as two requests would
            barrier.wait()
            try:
                users.update_user(target, active=False, actor=actor)
                outcomes.append("ok")
            except Conflict:
                outcomes.append("conflict")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=deactivate, args=("ann", "bob")),
               threading.Thread(target=deactivate, args=("bob", "ann"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["conflict", "ok"]
    with app.app_context():
        active_admins = db.session.scalar(
            select(func.count()).select_from(User).where(User.role == "admin", User.active.is_(True)))
    assert active_admins == 1


def test_the_admin_page_shows_the_409_message(app, client, login):
    make_user("boss", role="admin")
    login("boss")
    token = login.page_csrf("/admin/people/boss")
    deactivate = client.post("/admin/people/boss", data={"csrf_token": token, "action": "deactivate"})
    assert deactivate.status_code == 409
    assert "You cannot deactivate yourself; ask another admin." in deactivate.get_data(as_text=True)
    demote = client.post("/admin/people/boss", data={"csrf_token": token, "action": "role", "role": "annotator"})
    assert demote.status_code == 409
    assert "You cannot change your own role; ask another admin." in demote.get_data(as_text=True)
    assert (user_row(app, "boss").role, user_row(app, "boss").active) == ("admin", True)


# --- Defect 11: an empty PATCH ----------------------------------------------------------------


def test_an_empty_patch_is_422_and_writes_no_event(app, client):
    headers = token_for(make_user("root", role="admin"))
    make_user("amira")
    response = client.patch("/api/v1/users/amira", headers=headers, json={})
    assert response.status_code == 422
    assert response.json["message"] == "Nothing to change."
    assert events(app, "user.update") == 0


# --- Recovery: set a password, unlock ----------------------------------------------------------


def test_cli_set_password_reads_it_twice_and_ends_sessions(app, runner):
    amira = make_user("amira")
    token_for(amira)
    result = runner.invoke(args=["users", "set-password", "amira"],
                           input="a brand new secret\na brand new secret\n")
    assert result.exit_code == 0, result.output
    assert "Password of amira changed" in result.output
    with app.app_context():
        assert users.authenticate("amira", "a brand new secret") is not None
        assert users.authenticate("amira", PASSWORD) is None
        assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_cli_set_password_refuses_different_passwords_and_unknown_users(app, runner):
    make_user("amira")
    differ = runner.invoke(args=["users", "set-password", "amira"], input="a long password\nanother one!!\n")
    assert differ.exit_code != 0 and "differ" in differ.output
    ghost = runner.invoke(args=["users", "set-password", "ghost"], input="a long password\na long password\n")
    assert ghost.exit_code == 1 and "No user named 'ghost'" in ghost.output
    with app.app_context():
        assert users.authenticate("amira", PASSWORD) is not None


def test_cli_unlock_lets_a_locked_account_log_in(app, client, runner):
    make_user("amira")
    for _ in range(10):
        token_login(client, "amira", WRONG)
    assert token_login(client, "amira").status_code == 429
    result = runner.invoke(args=["users", "unlock", "amira"])
    assert result.exit_code == 0, result.output
    assert "Unlocked amira" in result.output
    assert token_login(client, "amira").status_code == 201
    assert runner.invoke(args=["users", "unlock", "ghost"]).exit_code == 1


def test_api_unlock_clears_the_account_counter(app, client):
    admin = token_for(make_user("root", role="admin"))
    annotator = token_for(make_user("bruno"))
    make_user("amira")
    codes = [token_login(client, "amira", WRONG).status_code for _ in range(11)]
    assert codes == [401] * 10 + [429]
    locked = token_login(client, "amira")
    assert locked.status_code == 429 and 800 < int(locked.headers["Retry-After"]) <= 901
    assert locked.get_json()["message"] == wait_message(int(locked.headers["Retry-After"]))
    assert client.post("/api/v1/users/amira/unlock", headers=annotator).status_code == 403
    assert client.post("/api/v1/users/ghost/unlock", headers=admin).status_code == 404
    response = client.post("/api/v1/users/amira/unlock", headers=admin)
    assert response.status_code == 204
    assert token_login(client, "amira").status_code == 201
    assert events(app, "user.unlock") == 1
    # The count starts afresh: ten more failures before the next lock.
    codes = [token_login(client, "amira", WRONG).status_code for _ in range(11)]
    assert codes == [401] * 10 + [429]


def test_the_unlock_button_on_the_person_page_unlocks(app, client, login):
    make_user("boss", role="admin")
    make_user("amira")
    other = app.test_client()
    for _ in range(10):
        Login(other)("amira", WRONG)
    assert Login(other)("amira").status_code == 429
    login("boss")
    page = client.get("/admin/people/amira").get_data(as_text=True)
    assert 'id="unlock-form"' in page and 'value="unlock"' in page
    token = login.page_csrf("/admin/people/amira")
    assert client.post("/admin/people/amira", data={"action": "unlock"}).status_code == 400  # CSRF
    response = client.post("/admin/people/amira", data={"csrf_token": token, "action": "unlock"})
    assert response.status_code == 302
    assert "amira is unlocked" in client.get("/admin/people/amira").get_data(as_text=True)
    assert Login(other)("amira").status_code == 302


# --- Defect 12: per account and per address -----------------------------------------------------


def test_one_persons_typos_do_not_lock_out_colleagues_behind_one_address(client, login):
    make_user("amira")
    make_user("bruno")
    office = "198.51.100.20"
    codes = [login("amira", WRONG, address=office).status_code for _ in range(11)]
    assert codes == [401] * 10 + [429]
    assert login("bruno", address=office).status_code == 302
    assert token_login(client, "bruno", address=office).status_code == 201


def test_the_address_limit_stops_password_spraying_at_its_threshold(app, make_app):
    sprayed = make_app(LOGIN_ADDRESS_LIMIT="5 per 15 minutes")
    client = sprayed.test_client()
    make_user("amira")
    codes = [token_login(client, f"ghost{n}", WRONG, address="203.0.113.9").status_code for n in range(5)]
    assert codes == [401] * 5
    blocked = token_login(client, "amira", address="203.0.113.9")
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert token_login(client, "amira", address="203.0.113.10").status_code == 201


def test_the_login_page_shows_the_wait_in_whole_minutes(client, login):
    make_user("amira")
    for _ in range(10):
        login("amira", WRONG)
    response = login("amira")
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert "Too many failed attempts. Try again in 15 minutes." in page
    assert 'name="username" value="amira"' in page  # the form is back, ready for later
    seconds = int(response.headers["Retry-After"])
    assert 840 < seconds <= 901 and -(-seconds // 60) == 15


def test_the_wait_is_rounded_up_to_whole_minutes():
    assert wait_message(1) == "Too many failed attempts. Try again in 1 minute."
    assert wait_message(60) == "Too many failed attempts. Try again in 1 minute."
    assert wait_message(61) == "Too many failed attempts. Try again in 2 minutes."
    assert wait_message(720) == "Too many failed attempts. Try again in 12 minutes."


# --- Defect 12: a key prefix per deployment -----------------------------------------------------


def test_the_default_prefix_is_derived_from_the_secret_key(make_app):
    first, second = "a" * 40, "b" * 40
    assert ratelimit_prefix(first) != ratelimit_prefix(second)
    assert re.fullmatch(r"annotator-[0-9a-f]{12}", ratelimit_prefix(first))
    assert first not in ratelimit_prefix(first)
    assert make_app(SECRET_KEY=first).config["RATELIMIT_PREFIX"] == ratelimit_prefix(first)
    assert make_app(SECRET_KEY=first, RATELIMIT_PREFIX="lab-a").config["RATELIMIT_PREFIX"] == "lab-a"


def _deployments_do_not_share_counters(make_app, storage):
    secret, other_secret = "s" * 40, "t" * 40
    # All apps exist before the first attempt: the limiter (one per process) is re-bound to a
    # new storage by each app created.
    one = make_app(SECRET_KEY=secret, RATELIMIT_STORAGE_URI=storage).test_client()
    same = make_app(SECRET_KEY=secret, RATELIMIT_STORAGE_URI=storage).test_client()
    other = make_app(SECRET_KEY=other_secret, RATELIMIT_STORAGE_URI=storage).test_client()
    make_user("amira")
    for _ in range(10):
        token_login(one, "amira", WRONG)
    assert token_login(one, "amira").status_code == 429
    assert token_login(same, "amira").status_code == 429  # one deployment, several workers: shared
    assert token_login(other, "amira").status_code == 201  # another deployment: its own counters


def test_two_deployments_on_one_memory_storage_do_not_share_counters(app, make_app):
    _deployments_do_not_share_counters(make_app, "memory://")


def test_two_deployments_on_one_redis_do_not_share_counters(app, make_app, redis_url):
    import redis

    _deployments_do_not_share_counters(make_app, redis_url)
    client = redis.Redis.from_url(redis_url)
    keys = [key.decode() for key in client.keys("*")]
    client.close()
    assert keys and all(ratelimit_prefix("s" * 40) in key for key in keys), keys


def test_cli_unlock_reaches_the_servers_counters_in_redis(app, make_app, gunicorn, redis_url):
    from tests.test_security_server import post_json

    make_user("amira")
    url = gunicorn(workers=2, ANNOTATOR_RATELIMIT_STORAGE_URI=redis_url) + "/api/v1/auth/token"
    for _ in range(10):
        post_json(url, {"username": "amira", "password": WRONG})
    assert post_json(url, {"username": "amira", "password": PASSWORD})[0] == 429
    # The command runs in another process of the same deployment: same secret key, same Redis.
    cli = make_app(SECRET_KEY=app.config["SECRET_KEY"], RATELIMIT_STORAGE_URI=redis_url).test_cli_runner()
    result = cli.invoke(args=["users", "unlock", "amira"])
    assert result.exit_code == 0 and "Note:" not in result.output, result.output
    assert post_json(url, {"username": "amira", "password": PASSWORD})[0] == 201
