#!/usr/bin/env python
"""Load, ledger and faults: N simulated annotators against the service under gunicorn.

    python bench/load.py --db sqlite|postgresql [--users 50] [--duration 30] [--think 200]
                         [--loop full|simple] [--faults] [--workers 4] [--url URL]

It starts gunicorn on a free port with a fresh database (or uses --url with --token-file),
creates a project, one annotator per simulated user and their documents, and runs the users
as asyncio tasks (one light client process, sharing the 2 cores with the server):

- ``full`` loop: get my next document, get its annotations, create 10 spans, change one,
  delete one, add a relation, submit;
- ``simple`` loop (the one peers are measured with): get a document, replace its annotations
  with 10 spans (PUT with If-Match).

A ledger records every write the server acknowledged (a 2xx answer to a create, update or
delete). A write whose outcome is unknown (connection reset, timeout, 5xx) is retried with
the same client id, which the API makes idempotent. Afterwards the database is read directly:
``lost`` counts acknowledged spans and relations that are missing, ``duplicated`` those stored
more than once or present although their deletion was acknowledged.

With ``--faults`` a random gunicorn worker is killed with SIGKILL every few seconds, the
master is reloaded with SIGHUP, and (on PostgreSQL) the database server is restarted in the
middle of the run.

The same client then runs for a few seconds, with no pause, against a minimal Flask +
gunicorn endpoint started the same way: ``ceiling_ratio`` is this run's requests per second
divided by that ceiling (meaningful with --think 0).

The last line printed is one JSON object with the figures.
"""

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("ANNOTATOR_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
WRITE_KINDS = {"create_span", "patch_span", "delete_span", "create_relation", "submit", "put_annotations"}
WORDS = ("the army said rebels fired shells at the market in northern town killing at least twelve "
         "civilians while medics reported dozens wounded near the hospital and the ministry denied "
         "any role as drones struck a convoy on the highway south of the capital").split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def synthetic_text(rng: random.Random, chars: int = 1500) -> str:
    paragraphs, words, size = [], [], 0
    while size < chars:
        word = rng.choice(WORDS)
        words.append(word.capitalize() if not words else word)
        size += len(word) + 1
        if len(words) > 12 and rng.random() < 0.12:
            paragraphs.append(" ".join(words) + ".")
            words = []
    paragraphs.append(" ".join(words) + ".")
    return "\n\n".join(paragraphs)


# --------------------------------------------------------------------------- database setup


class Database:
    """A fresh, migrated database for one run, with its project, users and documents."""

    def __init__(self, kind: str):
        self.kind = kind
        self.tmp = tempfile.mkdtemp(prefix="annotator-load-")
        self.pg_name = None
        if kind == "sqlite":
            self.url = f"sqlite:///{self.tmp}/load.db"
        else:
            import psycopg

            self.pg_name = f"bench_load_{os.getpid()}_{secrets.token_hex(3)}"
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.pg_name}"')
            self.url = PG_URL.rsplit("/", 1)[0] + "/" + self.pg_name
        self.secret = secrets.token_hex(32)

    def app(self):
        from annotator import create_app
        from annotator.config import normalize_database_url

        return create_app({"SECRET_KEY": self.secret, "SQLALCHEMY_DATABASE_URI": normalize_database_url(self.url)})

    def populate(self, users: int, docs_per_user: int, seed: int) -> dict:
        """Migrate, then create the project, one annotator per user and their assigned documents."""
        from flask_migrate import upgrade
        from sqlalchemy import insert
        from werkzeug.security import generate_password_hash

        from annotator.extensions import db
        from annotator.models import Assignment
        from annotator.models import ProjectMember
        from annotator.models import User
        from annotator.services import importing
        from annotator.services import projects
        from annotator.services import users as user_service

        rng = random.Random(seed)
        app = self.app()
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            project = projects.create_project("load", assignment={"mode": "static", "per_document": 1})
            password_hash = generate_password_hash(secrets.token_hex(8))
            db.session.execute(insert(User), [
                {"username": f"load{i:03d}", "password_hash": password_hash, "role": "annotator",
                 "active": True, "session_epoch": 0} for i in range(users)])
            db.session.commit()
            people = db.session.scalars(db.select(User).order_by(User.id)).all()
            db.session.execute(insert(ProjectMember), [
                {"project_id": project.id, "user_id": u.id} for u in people])
            db.session.commit()
            texts = [{"text": synthetic_text(rng)} for _ in range(users * docs_per_user)]
            ids = importing.import_records(project, list(enumerate(texts, 1))).document_ids
            rows, owned = [], defaultdict(list)
            for n, document_id in enumerate(ids):
                user = people[n % users]
                rows.append({"document_id": document_id, "user_id": user.id, "status": "assigned"})
                owned[user.username].append(document_id)
            db.session.execute(insert(Assignment), rows)
            db.session.commit()
            tokens = {u.username: user_service.issue_token(u, "load") for u in people}
            db.engine.dispose()
        return {"project_id": project.id, "tokens": tokens, "documents": dict(owned)}

    def stored(self) -> dict:
        """Read every stored span and relation id per document, straight from the database."""
        from sqlalchemy import select

        from annotator.extensions import db
        from annotator.models import AnnotationSet
        from annotator.models import Relation
        from annotator.models import Span

        app = self.app()
        with app.app_context():
            spans = db.session.execute(
                select(AnnotationSet.document_id, Span.uuid).join(Span, Span.set_id == AnnotationSet.id)).all()
            relations = db.session.execute(
                select(AnnotationSet.document_id, Relation.uuid)
                .join(Relation, Relation.set_id == AnnotationSet.id)).all()
            integrity = None
            if self.kind == "sqlite":
                integrity = db.session.execute(db.text("PRAGMA integrity_check")).scalar()
            db.engine.dispose()
        return {"spans": spans, "relations": relations, "integrity": integrity}

    def drop(self):
        if self.pg_name:
            import psycopg

            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')


# --------------------------------------------------------------------------- gunicorn


class Server:
    """gunicorn serving ``target`` on a free port, started the way production starts it."""

    def __init__(self, target: str, env: dict, workers: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "ANNOTATOR_BIND": f"127.0.0.1:{self.port}",
                    "ANNOTATOR_WORKERS": str(workers)}
        self.target = target
        self.process = None
        self.start_s = None

    def start(self):
        began = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), self.target],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        path = "/healthz" if self.target == "app:app" else "/ping"
        import urllib.request

        while True:
            try:
                with urllib.request.urlopen(self.url + path, timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                if self.process.poll() is not None:
                    raise SystemExit("gunicorn exited: " + self.process.stderr.read().decode()[-2000:]) from None
                time.sleep(0.02)
        self.start_s = time.perf_counter() - began
        return self

    def workers(self) -> list[int]:
        children = []
        task_dir = Path(f"/proc/{self.process.pid}/task")
        for task in task_dir.iterdir():
            text = (task / "children").read_text().split()
            children.extend(int(pid) for pid in text)
        return children

    def worker_rss_mib(self) -> list[float]:
        sizes = []
        for pid in self.workers():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes.append(int(line.split()[1]) / 1024)
            except OSError:
                pass
        return sizes

    def kill_random_worker(self, rng) -> int | None:
        workers = self.workers()
        if not workers:
            return None
        pid = rng.choice(workers)
        os.kill(pid, signal.SIGKILL)
        return pid

    def reload(self):
        os.kill(self.process.pid, signal.SIGHUP)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()


# --------------------------------------------------------------------------- the client


class Stats:
    def __init__(self):
        self.latency = defaultdict(list)
        self.errors = 0  # 5xx answers and connection failures
        self.unexpected = defaultdict(int)  # other non-2xx answers, by "kind status"
        self.requests = 0
        self.loops = 0
        self.retries = 0
        self.ok_times = []  # monotonic time of every successful answer, for recovery times

    def summary(self, wall: float) -> dict:
        def pct(values, q):
            values = sorted(values)
            return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1) if values else None

        return {
            "loops_per_s": round(self.loops / wall, 2),
            "requests_per_s": round(self.requests / wall, 1),
            "p50_ms": {k: pct(v, 0.50) for k, v in sorted(self.latency.items())},
            "p95_ms": {k: pct(v, 0.95) for k, v in sorted(self.latency.items())},
            "p99_ms": {k: pct(v, 0.99) for k, v in sorted(self.latency.items())},
            "errors": self.errors,
            "unexpected_4xx": dict(self.unexpected),
            "retries": self.retries,
        }


class Ledger:
    """What the server acknowledged: span and relation ids created (and deleted), per document."""

    def __init__(self):
        self.spans = {}  # (document_id, uuid) -> "present" | "deleted"
        self.relations = {}
        self.acked_writes = 0

    def check(self, stored) -> dict:
        counts = defaultdict(int)
        for document_id, span_id in stored["spans"]:
            counts[("s", document_id, span_id)] += 1
        for document_id, relation_id in stored["relations"]:
            counts[("r", document_id, relation_id)] += 1
        lost = duplicated = 0
        for prefix, entries in (("s", self.spans), ("r", self.relations)):
            for (document_id, item), state in entries.items():
                n = counts.get((prefix, document_id, item), 0)
                if state == "present" and n == 0:
                    lost += 1
                if n > 1 or (state == "deleted" and n > 0):
                    duplicated += 1
        return {"lost": lost, "duplicated": duplicated,
                "acked_present": sum(s == "present" for s in self.spans.values())
                + sum(s == "present" for s in self.relations.values())}


class Client:
    """One simulated annotator."""

    def __init__(self, run, username, token, documents):
        self.run = run
        self.headers = {"Authorization": f"Bearer {token}"}
        self.documents = documents
        self.versions = {}

    async def call(self, kind, method, path, body=None, headers=None, ok=(200, 201, 204), retry=True):
        """Send one request; retry unknown outcomes (5xx, resets) with the same body.

        Returns (status, json or None). Writes retried after an unknown outcome stay safe because
        every create carries its client id.
        """
        run, stats = self.run, self.run.stats
        attempt = 0
        while True:
            began = time.perf_counter()
            try:
                async with run.session.request(method, run.base + path, json=body,
                                               headers={**self.headers, **(headers or {})}) as response:
                    status = response.status
                    data = await response.json(content_type=None) if status != 204 else None
            except (TimeoutError, aiohttp.ClientError, ValueError):
                status, data = None, None
            elapsed = time.perf_counter() - began
            stats.requests += 1
            if status is not None and status < 500:
                stats.latency[kind].append(elapsed)
                if status in ok:
                    stats.ok_times.append(time.monotonic())
                    if kind in WRITE_KINDS:
                        run.ledger.acked_writes += 1
                else:
                    stats.unexpected[f"{kind} {status}"] += 1
                return status, data
            stats.errors += 1
            if not retry or attempt >= 60 or run.stopping_hard:
                return status, None
            attempt += 1
            stats.retries += 1
            await asyncio.sleep(min(0.05 * 2 ** attempt, 1.0))

    async def think(self):
        if self.run.think:
            await asyncio.sleep(self.run.think * random.uniform(0.5, 1.5))

    def pick_spans(self, tokens, n=10):
        """Choose n non-overlapping single-token spans, first an ACTOR then a WEAPON, then mixed."""
        chosen = sorted(random.sample(range(len(tokens)), min(n, len(tokens))))
        labels = ["ACTOR", "WEAPON"] + [random.choice(["ACTOR", "WEAPON", "LOCATION"]) for _ in range(n - 2)]
        return [{"id": str(uuid.uuid4()), "start": tokens[i][0], "end": tokens[i][1], "label": label}
                for i, label in zip(chosen, labels, strict=False)]

    async def full_loop(self):
        run = self.run
        status, document = await self.call("next", "GET", f"/api/v1/projects/{run.project_id}/next", ok=(200, 204))
        if status != 200:
            return False
        did = document["id"]
        await self.think()
        await self.call("get_annotations", "GET", f"/api/v1/documents/{did}/annotations")
        spans = self.pick_spans(document["tokens"])
        for span in spans:
            await self.think()
            status, _ = await self.call("create_span", "POST", f"/api/v1/documents/{did}/spans", span)
            if status in (200, 201):
                run.ledger.spans[(did, span["id"])] = "present"
        await self.think()
        await self.call("patch_span", "PATCH", f"/api/v1/documents/{did}/spans/{spans[2]['id']}",
                        {"label": "LOCATION"})
        await self.think()
        status, _ = await self.call("delete_span", "DELETE", f"/api/v1/documents/{did}/spans/{spans[-1]['id']}",
                                    ok=(200, 204, 404))
        if status in (200, 204, 404):  # 404 on a retry: the first attempt deleted it
            run.ledger.spans[(did, spans[-1]["id"])] = "deleted"
        await self.think()
        relation = {"id": str(uuid.uuid4()), "head": spans[0]["id"], "tail": spans[1]["id"], "label": "uses"}
        status, _ = await self.call("create_relation", "POST", f"/api/v1/documents/{did}/relations", relation)
        if status in (200, 201):
            run.ledger.relations[(did, relation["id"])] = "present"
        await self.think()
        await self.call("submit", "POST", f"/api/v1/documents/{did}/status", {"status": "submitted"})
        return True

    async def simple_loop(self, n):
        did = self.documents[n % len(self.documents)]
        status, document = await self.call("get_document", "GET", f"/api/v1/documents/{did}")
        if status != 200:
            return False
        await self.think()
        spans = self.pick_spans(document["tokens"])
        version = self.versions.get(did, 0)
        status, data = await self.call("put_annotations", "PUT", f"/api/v1/documents/{did}/annotations",
                                       {"spans": spans, "relations": []}, headers={"If-Match": str(version)})
        if status == 200:
            for key in [k for k in self.run.ledger.spans if k[0] == did]:
                self.run.ledger.spans[key] = "deleted"  # replaced
            for span in spans:
                self.run.ledger.spans[(did, span["id"])] = "present"
            self.versions[did] = data["version"]
        elif status == 412:  # an unknown outcome was applied after all: learn the version
            _, current = await self.call("get_annotations", "GET", f"/api/v1/documents/{did}/annotations")
            self.versions[did] = current["version"]
        await self.think()
        return True

    async def run_until(self, deadline):
        n = 0
        while time.monotonic() < deadline:
            done = await (self.full_loop() if self.run.loop == "full" else self.simple_loop(n))
            if not done:
                return
            self.run.stats.loops += 1
            n += 1


class Run:
    def __init__(self, base, project_id, think_ms, loop):
        self.base = base
        self.project_id = project_id
        self.think = think_ms / 1000
        self.loop = loop
        self.stats = Stats()
        self.ledger = Ledger()
        self.session = None
        self.stopping_hard = False


async def drive(run, people, duration):
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        run.session = session
        deadline = time.monotonic() + duration
        clients = [Client(run, name, token, docs) for name, token, docs in people]
        began = time.monotonic()
        await asyncio.gather(*(c.run_until(deadline) for c in clients))
        return time.monotonic() - began


async def ceiling(base, users, duration) -> float:
    """Requests per second of the same client, same concurrency, no pause, on /ping."""
    count = 0
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.monotonic() + duration

        async def one():
            nonlocal count
            while time.monotonic() < deadline:
                async with session.get(base + "/ping") as response:
                    await response.json()
                    count += 1

        began = time.monotonic()
        await asyncio.gather(*(one() for _ in range(users)))
        return count / (time.monotonic() - began)


async def faults(server, db_kind, duration, rng, log):
    """Kill a worker every few seconds, reload once, restart PostgreSQL once."""
    began = time.monotonic()
    reloaded = restarted = False
    while time.monotonic() - began < duration - 2:
        await asyncio.sleep(3)
        elapsed = time.monotonic() - began
        pid = server.kill_random_worker(rng)
        log.append({"at_s": round(elapsed, 1), "fault": "kill -9 worker", "pid": pid})
        if not reloaded and elapsed > duration * 0.3:
            server.reload()
            reloaded = True
            log.append({"at_s": round(elapsed, 1), "fault": "SIGHUP reload"})
        if db_kind == "postgresql" and not restarted and elapsed > duration * 0.5:
            restarted = True
            version = sorted(os.listdir("/etc/postgresql"))[-1]
            t0 = time.monotonic()
            await asyncio.to_thread(subprocess.run, ["pg_ctlcluster", "--skip-systemctl-redirect", version,
                                                     "main", "restart"], check=False, capture_output=True)
            log.append({"at_s": round(elapsed, 1), "fault": "PostgreSQL restart",
                        "restart_s": round(time.monotonic() - t0, 2), "t0": t0})


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--think", type=float, default=200, help="pause between actions, ms")
    parser.add_argument("--loop", choices=["full", "simple"], default="full")
    parser.add_argument("--faults", action="store_true")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--docs-per-user", type=int, default=0, help="default: enough for the run")
    parser.add_argument("--ceiling-duration", type=float, default=8)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    random.seed(args.seed)

    docs_per_user = args.docs_per_user or (
        5 if args.loop == "simple" else int(args.duration / (15 * max(args.think, 15) / 1000)) + 5)
    print(f"# {args.loop} loop, {args.users} users, {args.duration:.0f} s, think {args.think:.0f} ms, "
          f"{args.workers} workers, {args.db}{', faults' if args.faults else ''}", flush=True)
    database = Database(args.db)
    try:
        t0 = time.perf_counter()
        setup = database.populate(args.users, docs_per_user, args.seed)
        print(f"setup: {args.users * docs_per_user} documents in {time.perf_counter() - t0:.1f} s", flush=True)
        env = {"ANNOTATOR_DATABASE_URL": database.url, "ANNOTATOR_SECRET_KEY": database.secret,
               "ANNOTATOR_RATELIMIT_STORAGE_URI": "memory://"}
        server = Server("app:app", env, args.workers).start()
        time.sleep(1.0)
        idle = server.worker_rss_mib()
        print(f"start to first answer: {server.start_s:.2f} s; idle RSS per worker: "
              f"{', '.join(f'{x:.0f}' for x in idle)} MiB", flush=True)
        run = Run(server.url, setup["project_id"], args.think, args.loop)
        people = [(name, token, setup["documents"][name]) for name, token in setup["tokens"].items()]
        fault_log = []

        async def go():
            tasks = [drive(run, people, args.duration)]
            if args.faults:
                tasks.append(faults(server, args.db, args.duration, rng, fault_log))
            results = await asyncio.gather(*tasks)
            return results[0]

        cpu0 = cpu_seconds()
        wall = asyncio.run(go())
        client_cpu = cpu_seconds() - cpu0
        server.stop()
        summary = run.stats.summary(wall)
        stored = database.stored()
        check = run.ledger.check(stored)
        base = Server("bench.ceiling_app:app", {}, args.workers).start()
        try:
            ceiling_rps = asyncio.run(ceiling(base.url, args.users, args.ceiling_duration))
        finally:
            base.stop()
    finally:
        database.drop()

    figures = {
        "bench": "load", "db": args.db, "loop": args.loop, "users": args.users, "think_ms": args.think,
        "duration_s": round(wall, 1), "workers": args.workers, "faults": args.faults,
        **summary,
        "acked_writes": run.ledger.acked_writes, "acked_present": check["acked_present"],
        "lost": check["lost"], "duplicated": check["duplicated"],
        "integrity_check": stored["integrity"],
        "ceiling_rps": round(ceiling_rps, 1),
        "ceiling_ratio": round(summary["requests_per_s"] / ceiling_rps, 3) if ceiling_rps else None,
        "idle_rss_mib": round(max(idle), 1) if idle else None,
        "start_s": round(server.start_s, 2),
        "client_cpu_share": round(client_cpu / wall / (os.cpu_count() or 1), 3),
    }
    if args.faults:
        ok = run.stats.ok_times
        gaps = [b - a for a, b in zip(ok, ok[1:], strict=False)]
        figures["max_gap_s"] = round(max(gaps), 2) if gaps else None
        for fault in fault_log:
            if "t0" in fault:  # seconds from the restart command to the next successful answer
                after = [t for t in ok if t > fault["t0"]]
                fault["recovered_s"] = round(after[0] - fault["t0"], 2) if after else None
        figures["fault_log"] = [{k: v for k, v in f.items() if k != "t0"} for f in fault_log]
        figures["failed_requests"] = summary["errors"]
    print()
    print(f"loops/s {figures['loops_per_s']}, requests/s {figures['requests_per_s']}, "
          f"errors {figures['errors']}, retries {figures['retries']}, unexpected {figures['unexpected_4xx']}")
    for kind in summary["p50_ms"]:
        print(f"  {kind:<16} p50 {summary['p50_ms'][kind]:>7} ms  p95 {summary['p95_ms'][kind]:>7} ms  "
              f"p99 {summary['p99_ms'][kind]:>7} ms")
    print(f"ledger: {figures['acked_writes']} acknowledged writes, lost {figures['lost']}, "
          f"duplicated {figures['duplicated']}")
    print(f"ceiling {figures['ceiling_rps']} req/s -> ratio {figures['ceiling_ratio']}; "
          f"client CPU share {figures['client_cpu_share']:.0%} of the machine")
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
