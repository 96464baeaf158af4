"""Benchmark the import: documents per second and peak RSS, CLI and API, SQLite and PostgreSQL.

Writes a synthetic JSON-lines file of articles shaped like the issue's benchmark (about 1,500
characters, 15 pre-annotated spans each, with attributes and span text), then imports it into a
fresh database each time:

- ``cli``: ``flask --app app import bench FILE --as amira`` in its own process; the figure is
  the import itself (the command prints its own time), the wall time with start-up is given too.
- ``api``: gunicorn (one worker) started on a free port with the project's gunicorn.conf.py,
  and one ``POST /api/v1/projects/{pid}/documents`` multipart upload of the file over HTTP with
  a bearer token; the figure is the request's wall time.

Past a thousand records the import checks and tokenizes in two forked worker processes. Peak RSS
is the importing process's high-water mark (the CLI process; the gunicorn worker); the workers'
high-water marks are given apart, and with them the peak of the processes' proportional set size
(PSS: pages the fork shares are counted once), sampled every 20 ms. CPU seconds are those of the
importing process and its workers.

    .venv/bin/python bench/import.py                         # 10,000 documents, both databases
    .venv/bin/python bench/import.py --docs 2000 --databases sqlite --paths cli

The PostgreSQL scratch databases are created on the server of ``--postgres`` (default
postgresql://postgres@127.0.0.1:5432/test) and dropped at the end. Prints a table, then one
JSON line with every figure.
"""

import argparse
import json
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = secrets.token_hex(32)
# Label Studio 1.23 through its API, 10,000 such tasks (issue 3): the best of the peers.
BASELINE_DOCS_PER_SECOND = 645
GOAL_DOCS_PER_SECOND = 6450

ACTORS = ["Government forces", "the Northern Shield Brigade", "rebel fighters", "Abu Karam", "security forces",
          "coalition aircraft", "the 16th Division", "militiamen", "Saad al-Juburi", "border guards"]
WEAPONS = ["mortar rounds", "a car bomb", "artillery shells", "drones", "rockets", "a roadside bomb", "sniper fire"]
PLACES = ["western Mosul", "Aleppo (حلب)", "the outskirts of Idlib", "Taiz", "Deir ez-Zor", "al-Hamdaniya",
          "Benghazi", "Hajjah province", "the Hammam al-Alil road", "Kidal"]
FILLER = [
    "Residents described streets strewn with rubble and said power had been cut for most of the day.",
    "The claim could not be independently verified, and officials gave no further details.",
    "Aid agencies said access to the area remained difficult after days of fighting.",
    "Witnesses reached by telephone said the shelling began shortly after dawn prayers.",
    "A local council member said families had fled towards villages further east.",
    "Hospital staff said they were running short of blood and anaesthetics.",
    "The ministry statement did not say how many of the dead were fighters.",
    "Footage shared online, which could not be verified, showed smoke rising over the market.",
]
SYLLABLES = ["al", "ra", "mi", "don", "kar", "sha", "bu", "tel", "zan", "ho", "mer", "ib", "qa", "nur"]


def make_article(rng: random.Random, number: int) -> dict:
    """Return one synthetic record: ~1,500 characters, 15 spans with attributes and their text."""
    parts: list[str] = []
    spans: list[dict] = []
    length = 0

    def add(piece: str, label: str | None = None, attrs: dict | None = None):
        nonlocal length
        if label is not None:
            spans.append({"start": length, "end": length + len(piece), "text": piece, "label": label,
                          "attrs": attrs or {}})
        parts.append(piece)
        length += len(piece)

    for sentence in range(4):
        if sentence:
            add(" " + rng.choice(FILLER) + " ")
        name = "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()
        add(rng.choice(ACTORS), "ACTOR", {"number": "group", "actor_kind": "rebel_group", "mention": "NAM"})
        add(" fired ")
        add(rng.choice(WEAPONS), "WEAPON", {"weapon_class": "artillery"})
        add(" at ")
        add(f"{rng.choice(PLACES)} near {name}", "LOCATION", {"granularity": "populated_place"})
        add(", leaving ")
        count = rng.randint(2, 400)
        if len(spans) < 15:
            add(f"{count} people dead", "CASUALTY_CLAIM", {"outcome": "killed", "count_value": count,
                                                            "count_low": count, "count_high": count,
                                                            "qualifier": "exact"})
        else:
            add(f"{count} people dead")
        add(f", report {number}-{sentence} said.")
    while length < 1450:
        add(" " + rng.choice(FILLER))
    return {"id": f"bench-{number}", "text": "".join(parts), "meta": {"source": "bench", "n": number},
            "spans": spans[:15]}


def write_corpus(path: Path, docs: int) -> dict:
    rng = random.Random(20261127)
    chars = spans = 0
    with open(path, "w", encoding="utf-8") as handle:
        for number in range(docs):
            record = make_article(rng, number)
            chars += len(record["text"])
            spans += len(record["spans"])
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return {"docs": docs, "mean_chars": round(chars / docs), "spans_per_doc": spans / docs,
            "file_mb": round(path.stat().st_size / 2**20, 1)}


class Database:
    """A fresh scratch database, migrated, with an admin, a member annotator and a project."""

    def __init__(self, kind: str, postgres: str, workdir: Path):
        self.kind = kind
        if kind == "sqlite":
            self.url = f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:6]}.db'}"
            self.name = None
        else:
            import psycopg

            self.name = f"annotator_bench_import_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            with psycopg.connect(postgres, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
            self.postgres = postgres
            self.url = "postgresql+psycopg://" + re.sub(r"^postgres(ql)?(\+\w+)?://", "", postgres).rsplit(
                "/", 1)[0] + "/" + self.name
        self.env = {**os.environ, "ANNOTATOR_DATABASE_URL": self.url, "ANNOTATOR_SECRET_KEY": SECRET,
                    "PYTHONPATH": str(ROOT)}
        self.token, self.project_id = self._setup()

    def _setup(self):
        from flask_migrate import upgrade

        from annotator import create_app
        from annotator.extensions import db
        from annotator.services import projects
        from annotator.services import users

        app = create_app({"SECRET_KEY": SECRET, "SQLALCHEMY_DATABASE_URI": self.url})
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            admin = users.create_user("root", secrets.token_urlsafe(16), "admin")
            users.create_user("amira", secrets.token_urlsafe(16), "annotator")
            project = projects.create_project("bench")
            projects.add_members(project, ["amira"])
            token = users.issue_token(admin, "bench")
            project_id = project.id
            db.session.remove()
            db.engine.dispose()
        return token, project_id

    def drop(self):
        if self.name:
            import psycopg

            with psycopg.connect(self.postgres, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def run_cli(database: Database, corpus: Path) -> dict:
    started = time.perf_counter()
    process = subprocess.Popen([str(ROOT / ".venv/bin/flask"), "--app", "app", "import", "bench", str(corpus),
                                "--as", "amira"], cwd=ROOT, env=database.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    with MemorySampler(process.pid) as memory:
        out, err = process.communicate()
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"import failed: {out}\n{err}")
    # The command's own CPU figure counts its worker processes too.
    found = re.search(r"Imported ([\d,]+) documents .* in ([\d.]+) s .*, ([\d.]+) s CPU", out)
    return {"docs": int(found.group(1).replace(",", "")), "seconds": float(found.group(2)),
            "cpu_seconds": float(found.group(3)), "wall_seconds": round(wall, 2), **memory.figures()}


class MemorySampler:
    """Samples a process and its children every 20 ms: high-water marks and the summed PSS."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peaks: dict[int, float] = {}
        self.pss = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while True:
            self.sample()
            if self._stop.wait(0.02):
                return

    def sample(self):
        pss = 0.0
        for pid in [self.pid, *children(self.pid)]:
            peak = high_water_mib(pid)
            if peak is not None:
                self.peaks[pid] = max(self.peaks.get(pid, 0.0), peak)
            pss += proportional_mib(pid)
        self.pss = max(self.pss, pss)

    def figures(self) -> dict:
        workers = [peak for pid, peak in self.peaks.items() if pid != self.pid]
        return {"peak_rss_mib": self.peaks.get(self.pid), "workers": len(workers),
                "workers_peak_rss_mib": round(sum(workers), 1), "peak_pss_total_mib": round(self.pss, 1)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time a process and its finished children have used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def high_water_mib(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return round(int(found.group(1)) / 1024, 1) if found else None


def proportional_mib(pid: int) -> float:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0.0
    found = re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else 0.0


def run_api(database: Database, corpus: Path) -> dict:
    port = free_port()
    env = {**database.env, "ANNOTATOR_BIND": f"127.0.0.1:{port}", "ANNOTATOR_WORKERS": "1",
           "ANNOTATOR_WORKER_TIMEOUT": "600"}
    server = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "app:app"], cwd=ROOT,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        # One warm-up request loads spaCy's tokenizer in the worker, as any earlier import would.
        _post_json(base, database, {"documents": [{"text": "Warm-up article."}]})
        boundary = uuid.uuid4().hex
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="as_user"\r\n\r\namira\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.jsonl"\r\n'
                "Content-Type: application/x-ndjson\r\n\r\n").encode() + corpus.read_bytes() + \
            f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(
            f"{base}/api/v1/projects/{database.project_id}/documents", data=body, method="POST",
            headers={"Authorization": f"Bearer {database.token}",
                     "Content-Type": f"multipart/form-data; boundary={boundary}"})
        del body
        (worker,) = children(server.pid)
        cpu_before = cpu_seconds(worker)
        started = time.perf_counter()
        with MemorySampler(worker) as memory:
            with urllib.request.urlopen(request, timeout=600) as response:
                report = json.loads(response.read())
        seconds = time.perf_counter() - started
        # With the import's worker processes, which have ended (and been waited for) by now.
        cpu = cpu_seconds(worker) - cpu_before
        return {"docs": report["created"], "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
                **memory.figures()}
    finally:
        server.terminate()
        server.wait(30)


def _post_json(base, database, payload):
    request = urllib.request.Request(
        f"{base}/api/v1/projects/{database.project_id}/documents", data=json.dumps(payload).encode(),
        method="POST", headers={"Authorization": f"Bearer {database.token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--paths", default="cli,api")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        corpus_path = workdir / "bench.jsonl"
        corpus = write_corpus(corpus_path, args.docs)
        print(f"corpus: {corpus['docs']:,} articles, {corpus['mean_chars']:,} characters and "
              f"{corpus['spans_per_doc']:g} spans each, {corpus['file_mb']} MiB")
        for kind in args.databases.split(","):
            for path in args.paths.split(","):
                database = Database(kind, args.postgres, workdir)
                try:
                    figures = run_cli(database, corpus_path) if path == "cli" else run_api(database, corpus_path)
                finally:
                    database.drop()
                # Docs per CPU-second of the importing process: the figure other work on a shared
                # machine disturbs least (the wall-clock figure is the one users see).
                figures.update(database=kind, path=path,
                               docs_per_second=round(figures["docs"] / figures["seconds"]),
                               docs_per_cpu_second=round(figures["docs"] / max(figures["cpu_seconds"], 0.01)))
                results.append(figures)
                wall = f" (with start-up {figures['wall_seconds']} s)" if "wall_seconds" in figures else ""
                print(f"{kind:<10} {path:<4} {figures['docs']:>7,} docs in {figures['seconds']:>6.2f} s{wall}: "
                      f"{figures['docs_per_second']:>6,} docs/s ({figures['docs_per_cpu_second']:,} per CPU-second), "
                      f"peak RSS {figures['peak_rss_mib']} MiB (+ {figures['workers']} workers "
                      f"{figures['workers_peak_rss_mib']} MiB; PSS of all {figures['peak_pss_total_mib']} MiB)",
                      flush=True)
    best = max(r["docs_per_second"] for r in results)
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"best: {best:,} docs/s = {best / BASELINE_DOCS_PER_SECOND:.1f}x Label Studio's "
          f"{BASELINE_DOCS_PER_SECOND} docs/s (goal {GOAL_DOCS_PER_SECOND:,})")
    print(json.dumps({"bench": "import", "corpus": corpus, "results": results, "best_docs_per_second": best,
                      "load_average": round(os.getloadavg()[0], 1),
                      "baseline_docs_per_second": BASELINE_DOCS_PER_SECOND,
                      "goal_docs_per_second": GOAL_DOCS_PER_SECOND}))


if __name__ == "__main__":
    main()
