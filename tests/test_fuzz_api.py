"""The API fuzzer: schemathesis against the app's own /api/v1/openapi.json, over HTTP.

Each role (admin, annotator, anonymous) fuzzes a fresh database of each backend, seeded with a
project, members, documents, assignments and spans so that requests reach real objects. Every
phase runs (examples, coverage, fuzzing, stateful) with every check; the settings and the
exceptions, each with its reason, are in tests/schemathesis.toml. Any failure fails the test,
a 5xx included, with a reproducing curl command and the server's traceback.

Set ANNOTATOR_FUZZ_REPORT=path to also write the failures there as markdown; see
:func:`load_config` for a bigger budget or another seed.
"""

import logging
import os
import secrets
import time
import tomllib
import traceback
from pathlib import Path

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status
from schemathesis.engine import events
from schemathesis.engine import from_schema
from sqlalchemy import update
from werkzeug.security import generate_password_hash

from annotator.extensions import db
from annotator.models import Assignment
from annotator.models import User
from annotator.security import PUBLIC_ENDPOINTS
from annotator.services import users
from tests import factories

CONFIG = Path(os.environ.get("ANNOTATOR_FUZZ_CONFIG") or Path(__file__).with_name("schemathesis.toml"))
ROLES = ["admin", "annotator", "anonymous"]
# Examples per operation that the role may not call (see refused_operations).
REFUSED_EXAMPLES = 3
REPORT = os.environ.get("ANNOTATOR_FUZZ_REPORT")
TEXTS = [
    "Shelling hit the market in Aleppo on Monday; two people died.",
    "Flag 🇸🇾 and family 👨‍👩‍👧 sit beside café and 한국어 text.",
    "Militants attacked a checkpoint near the border at dawn, officials said.",
    "Protesters gathered in the square.",
]


@pytest.fixture
def cheap_hashes(monkeypatch):
    """Hash passwords with one PBKDF2 round instead of scrypt, for this test only.

    scrypt costs about 100 ms a hash on purpose, and the fuzzer creates users, changes passwords
    and tries logins hundreds of times a run: that cost would be most of its budget. What it
    tests is the answers, and check_password_hash reads the method from each stored hash.
    """
    def cheap(password):
        return generate_password_hash(password, method="pbkdf2:sha256:1")

    monkeypatch.setattr(users, "generate_password_hash", cheap)
    monkeypatch.setattr(users, "_DUMMY_HASH", cheap(secrets.token_urlsafe()))
    return cheap


def seed_database(app, cheap_hash) -> dict:
    """Store the objects the fuzzer should find and return each role's bearer token.

    The annotators come first, so the first user of a list is not the fuzzing admin (a fuzzed
    password change of the caller would end its own token and the rest of the run).
    """
    annotator = factories.make_user("fuzz-annotator")
    other = factories.make_user("fuzz-other")
    factories.make_user("fuzz-reviewer", role="reviewer")
    admin = factories.make_user("fuzz-admin", role="admin")
    project = factories.make_project("Fuzz project", members=[annotator, other, admin])
    factories.make_project("Dynamic project", members=[annotator, admin], assignment_mode="dynamic")
    gold = factories.make_documents(project, factories.corpus_records()[:2], as_user=annotator)
    plain = factories.make_documents(project, TEXTS)
    with app.app_context():
        db.session.execute(update(User).values(password_hash=cheap_hash(factories.PASSWORD)))
        for document_id in gold + plain:
            for user in (annotator, admin):
                if document_id in gold and user is annotator:
                    continue  # the import assigned its gold spans' owner already
                db.session.add(Assignment(document_id=document_id, user_id=user.id))
        db.session.commit()
        return {"admin": users.issue_token(admin), "annotator": users.issue_token(annotator),
                "anonymous": None}


class ServerErrors(logging.Handler):
    """Keeps the traceback of every unhandled error the app logs, with its request."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.seen: list[dict] = []

    def emit(self, record):
        from flask import has_request_context
        from flask import request

        if record.exc_info is None:
            return
        lines = traceback.format_exception(*record.exc_info)
        where = f"{request.method} {request.full_path.rstrip('?')}" if has_request_context() else "?"
        self.seen.append({"request": where, "last": lines[-1].strip(),
                          "traceback": "".join(lines[-8:])})


def refused_operations(app, role: str) -> list[str]:
    """Return the operationIds of the API operations ``role`` may not call.

    They answer 401 or 403 before they read their input, so a few requests show it; the
    budget goes to the operations the role may call.
    """
    refused = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        roles = getattr(app.view_functions[rule.endpoint], "required_roles", None)
        if role == "anonymous" or (roles and role not in roles):
            refused.append(rule.endpoint.rsplit(".", 1)[-1])
    return refused


def load_config(token: str | None, refused: list[str]) -> SchemathesisConfig:
    """Return the settings of tests/schemathesis.toml with the role's bearer token.

    ANNOTATOR_FUZZ_EXAMPLES, ANNOTATOR_FUZZ_STEPS and ANNOTATOR_FUZZ_SEED override the budget
    and the seed, to dig deeper locally than CI can afford; ANNOTATOR_FUZZ_CONFIG names another
    config file altogether.
    """
    data = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    if examples := os.environ.get("ANNOTATOR_FUZZ_EXAMPLES"):
        data["generation"]["max-examples"] = int(examples)
    if steps := os.environ.get("ANNOTATOR_FUZZ_STEPS"):
        data["phases"]["stateful"]["max-steps"] = int(steps)
    if seed_value := os.environ.get("ANNOTATOR_FUZZ_SEED"):
        data["seed"] = int(seed_value)
    if token is not None:
        data.setdefault("auth", {})["openapi"] = {"bearerAuth": {"bearer": token}}
    if refused:
        data.setdefault("operations", []).append({
            "include-operation-id": refused, "generation": {"max-examples": REFUSED_EXAMPLES},
            "phases": {"coverage": {"enabled": False}}})
    return SchemathesisConfig.from_dict(data, base_dir=str(CONFIG.parent))


def run_fuzzer(base_url, config) -> dict:
    """Run every phase against the server and return what the engine reported.

    The result holds ``failures`` (one per failed check), ``errors`` (the engine's own) and the
    figures: operations, requests and seconds per phase, the links the stateful phase had and
    how many of its steps followed one.
    """
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json", config=config)
    result = {"failures": [], "errors": [], "operations": schema.statistic.operations.selected,
              "requests": {}, "seconds": {}, "links": None, "linked": 0}
    started = {}
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder, phase = event.recorder, str(event.phase)
            result["requests"][phase] = result["requests"].get(phase, 0) + len(recorder.interactions)
            result["linked"] += sum(node.is_transition_applied for node in recorder.cases.values())
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        result["failures"].append(_failure(recorder, phase, case_id, check))
        elif isinstance(event, events.PhaseStarted):
            started[event.phase.name] = event.timestamp
            if isinstance(event.payload, events.StatefulPhasePayload):
                result["links"] = event.payload.transitions_selected
        elif isinstance(event, events.PhaseFinished) and event.phase.name in started:
            result["seconds"][str(event.phase.name)] = round(event.timestamp - started[event.phase.name], 1)
        elif isinstance(event, events.NonFatalError):
            result["errors"].append(f"{event.phase} {event.label}: {event.value!r}\n"
                                    + "".join(traceback.format_exception(event.value)[-6:]))
        elif isinstance(event, events.FatalError):
            raise event.exception
    return result


def _failure(recorder, phase, case_id, check) -> dict:
    failure = check.failure_info.failure
    interaction = recorder.interactions.get(failure.case_id or case_id)
    response = interaction.response if interaction is not None else None
    return {"operation": recorder.label, "phase": phase, "check": check.name, "title": failure.title,
            "message": failure.message, "curl": check.failure_info.code_sample,
            "status": response.status_code if response is not None else None,
            "body": response.content[:400].decode("utf-8", "replace") if response is not None else ""}


def describe(result, tracebacks) -> str:
    """Return the failures for people: one per operation, check and status, then tracebacks."""
    seen, out = set(), []
    for failure in result["failures"]:
        key = (failure["operation"], failure["check"], failure["title"], failure["status"])
        if key not in seen:
            seen.add(key)
            out.append(f"- {failure['operation']} [{failure['check']}, {failure['phase']}] {failure['title']} "
                       f"(status {failure['status']})\n  {failure['message'][:300]}\n  {failure['curl'][:600]}\n"
                       f"  answer: {failure['body'][:200]}")
    out.extend(f"- engine error: {error[:500]}" for error in result["errors"])
    for item in {t["last"]: t for t in tracebacks}.values():
        out.append(f"- server traceback, {item['request']}: {item['last']}\n{item['traceback']}")
    return "\n".join(out)


def server_cpu(app) -> dict:
    """Count the CPU seconds the app spends answering (the rest of the run is the fuzzer's)."""
    spent = {"seconds": 0.0}
    inner = app.wsgi_app

    def timed(environ, start_response):
        before = time.thread_time()
        try:
            return inner(environ, start_response)
        finally:
            spent["seconds"] += time.thread_time() - before

    app.wsgi_app = timed
    return spent


@pytest.mark.parametrize("role", ROLES)
def test_api_survives_the_fuzzer(app, live_server, backend, role, cheap_hashes):
    tokens = seed_database(app, cheap_hashes)
    config = load_config(tokens[role], refused_operations(app, role))
    handler = ServerErrors()
    # The app logs its unhandled errors; the development server, errors while streaming a body.
    loggers = [logging.getLogger("annotator.errors"), logging.getLogger("werkzeug")]
    for logger in loggers:
        logger.addHandler(handler)
    server = server_cpu(app)
    started, cpu = time.monotonic(), time.process_time()
    try:
        result = run_fuzzer(live_server, config)
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    summary = (f"{role} on {backend}: {result['operations']} operations, "
               f"{sum(result['requests'].values())} requests {result['requests']}, "
               f"{result['linked']} steps along {result['links']} links, "
               f"{time.monotonic() - started:.1f} s {result['seconds']} (CPU: "
               f"{time.process_time() - cpu:.1f} s, the app's {server['seconds']:.1f} s); "
               f"{len(result['failures'])} failed checks")
    print(summary)
    report = describe(result, handler.seen)
    if REPORT:
        with open(REPORT, "a", encoding="utf-8") as out:
            out.write(f"\n## {summary}\n\n{report}\n")
    assert not (result["failures"] or result["errors"] or handler.seen), f"{summary}\n{report}"
    if tokens[role] is not None:
        # A run that ended its own token (a fuzzed password change, say) tested little after that.
        me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {tokens[role]}"})
        assert me.status_code == 200, f"{summary}\nThe fuzzer lost its login during the run."
