"""Benchmark the export: seconds and peak RSS per format, on SQLite and PostgreSQL.

Builds a synthetic corpus shaped like the sample articles (about 650 characters, 15 spans and
10 relations per document, one annotator's submitted work) with bulk inserts into a scratch
database, then runs each export in a separate process, so the peak RSS is the exporter's
alone, and writes the file to disk. The corpus grows from the first size to the next, so the
peak at 50,000 documents can be compared with the peak at 10,000.

    .venv/bin/python bench/export.py                       # 10,000 then 50,000, both databases
    .venv/bin/python bench/export.py --sizes 10000 --databases sqlite --formats jsonl

The PostgreSQL scratch database is created on the server of ``--postgres`` (default
postgresql://postgres@127.0.0.1:5432/test) and dropped at the end. Prints a table, then one
JSON line with every figure.
"""

import argparse
import hashlib
import json
import os
import random
import re
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = secrets.token_hex(32)
FORMATS = ("jsonl", "conll", "spacy")
# The best figures of the peers for 10,000 such documents (issue 6): doccano 1.8.4's JSONL export.
BASELINE_SECONDS = 19.8

ACTORS = ["Government forces", "the Northern Shield Brigade", "rebel fighters", "Abu Karam", "security forces",
          "coalition aircraft crews", "the 16th Division", "militiamen", "Saad al-Juburi", "border guards"]
WEAPONS = ["mortar rounds", "a car bomb", "artillery shells", "drones", "rockets", "a roadside bomb", "snipers' rifles"]
PLACES = ["western Mosul", "Aleppo (حلب)", "the outskirts of Idlib", "Taiz", "Deir ez-Zor", "al-Hamdaniya",
          "Benghazi", "Hajjah province", "the Hammam al-Alil road", "Kidal"]
VICTIMS = ["civilians", "people", "soldiers", "children", "fighters", "police officers", "guests"]
COUNTS = ["three", "at least 12", "almost 100", "dozens of", "between 12 and 15", "27", "more than 80", "two"]
SOURCES = ["the interior ministry", "medics", "SANA, the state news agency", "a local monitor", "residents"]
FILLER = ["The area had been calm for weeks before the attack.",
          "Officials promised an inquiry into the incident.",
          "Shops stayed closed on Friday as families buried the dead.",
          "Footage shared online 📷 showed smoke rising over the rooftops.",
          "Aid groups said access to the district remained difficult."]
ACTOR_ATTRS = {"ace_type": "ORG", "actor_kind": "state_forces", "mention": "NAM", "number": "group"}
WEAPON_ATTRS = {"ace_type": "WEA", "weapon_class": "artillery"}
PLACE_ATTRS = {"ace_type": "GPE", "granularity": "populated_place"}
CLAIM_ATTRS = {"outcome": "killed", "count_text": "12", "count_value": 12, "count_low": 12, "count_high": 12,
               "qualifier": "exact", "polarity": "positive", "modality": "asserted", "scope": "incident",
               "victim_category": "civilian"}
TOKEN = re.compile(r"\w+|[^\w\s]")


def sentence(rng: random.Random, offset: int):
    """Return one annotated sentence at ``offset``: its text, 3 spans and 2 relations."""
    actor, weapon, place = rng.choice(ACTORS), rng.choice(WEAPONS), rng.choice(PLACES)
    count, victims, source = rng.choice(COUNTS), rng.choice(VICTIMS), rng.choice(SOURCES)
    pieces, spans = [], []

    def add(text, label=None, attrs=None):
        start = offset + sum(len(p) for p in pieces)
        pieces.append(text)
        if label:
            spans.append((start, start + len(text), label, attrs))

    if rng.random() < 0.5:
        add(actor, "ACTOR", ACTOR_ATTRS)
        add(" fired ")
        add(weapon, "WEAPON", WEAPON_ATTRS)
        add(" at a market on Thursday, ")
        add(f"killing {count} {victims}", "CASUALTY_CLAIM", CLAIM_ATTRS)
        add(f", {source} said. ")
        relations = [(2, 0, "perpetrator"), (2, 1, "instrument")]
    else:
        add(f"{count.capitalize()} {victims} were killed", "CASUALTY_CLAIM", CLAIM_ATTRS)
        add(" in ")
        add(place, "LOCATION", PLACE_ATTRS)
        add(" when ")
        add(actor, "ACTOR", ACTOR_ATTRS)
        add(f" shelled the area overnight, according to {source}. ")
        relations = [(0, 1, "place"), (0, 2, "perpetrator")]
    return "".join(pieces), spans, relations


def synthetic_document(n: int):
    """Return the text, tokens, spans and relations of synthetic document ``n`` (deterministic)."""
    rng = random.Random(n)
    parts = [f"Report {n}. "]
    spans, relations = [], []
    for i in range(5):
        text, new_spans, new_relations = sentence(rng, sum(len(p) for p in parts))
        base = len(spans)
        parts.append(text)
        spans += new_spans
        relations += [(base + h, base + t, label) for h, t, label in new_relations]
        if i in (1, 3):
            parts.append(rng.choice(FILLER) + ("\n\n" if i == 1 else " "))
    text = "".join(parts).rstrip()
    tokens = [[m.start(), m.end()] for m in TOKEN.finditer(text)]
    return text, tokens, spans, relations


def build_corpus(url: str, first: int, last: int, state: dict) -> None:
    """Insert documents ``first``..``last - 1`` with their submitted annotations, in bulk."""
    from annotator import create_app
    from annotator.extensions import db
    from annotator.models import AnnotationSet
    from annotator.models import Assignment
    from annotator.models import Document
    from annotator.models import Relation
    from annotator.models import Span

    app = create_app({"SECRET_KEY": SECRET, "SQLALCHEMY_DATABASE_URI": url})
    now = datetime.now(UTC)
    with app.app_context():
        engine = db.engine
        for chunk_start in range(first, last, 2000):
            documents, assignments, sets, spans, relations = [], [], [], [], []
            for n in range(chunk_start, min(chunk_start + 2000, last)):
                text, tokens, doc_spans, doc_relations = synthetic_document(n)
                doc_id = n + 1
                documents.append({"id": doc_id, "project_id": state["project_id"], "external_id": f"S{n:06d}",
                                  "text": text, "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
                                  "meta": {"source": "bench (synthetic)", "date": "2024-05-16"},
                                  "tokens": tokens, "lang": "en", "created_at": now})
                assignments.append({"id": doc_id, "document_id": doc_id, "user_id": state["user_id"],
                                    "status": "submitted", "created_at": now, "updated_at": now})
                sets.append({"id": doc_id, "document_id": doc_id, "user_id": state["user_id"], "kind": "manual",
                             "version": 1, "created_at": now, "updated_at": now})
                span_ids = []
                for start, end, label, attrs in doc_spans:
                    state["span_id"] += 1
                    span_ids.append(state["span_id"])
                    spans.append({"id": state["span_id"], "set_id": doc_id,
                                  "uuid": str(uuid.UUID(int=state["span_id"])),
                                  "start": start, "end": end, "label": label, "attrs": attrs,
                                  "created_at": now, "updated_at": now})
                for head, tail, label in doc_relations:
                    state["relation_id"] += 1
                    relations.append({"id": state["relation_id"], "set_id": doc_id,
                                      "uuid": str(uuid.UUID(int=state["relation_id"] + 2**64)),
                                      "head_id": span_ids[head], "tail_id": span_ids[tail], "label": label,
                                      "attrs": {}, "created_at": now})
            with engine.begin() as conn:
                for model, rows in ((Document, documents), (Assignment, assignments), (AnnotationSet, sets),
                                    (Span, spans), (Relation, relations)):
                    conn.execute(model.__table__.insert(), rows)
        engine.dispose()


def create_schema(url: str) -> dict:
    """Migrate an empty database and add the project and its annotator; return their ids."""
    from flask_migrate import upgrade

    from annotator import create_app
    from annotator.extensions import db
    from annotator.models import Project
    from annotator.models import ProjectMember
    from annotator.models import User
    from annotator.services.schema import default_schema

    app = create_app({"SECRET_KEY": SECRET, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        user = User(username="bench", password_hash="-", role="annotator")
        project = Project(name="Bench export", schema=default_schema())
        db.session.add_all([user, project])
        db.session.flush()
        db.session.add(ProjectMember(project_id=project.id, user_id=user.id))
        db.session.commit()
        state = {"project_id": project.id, "user_id": user.id, "span_id": 0, "relation_id": 0}
        db.engine.dispose()
    return state


def peak_rss_mib() -> float:
    """Return this process's peak resident set size in MiB.

    VmHWM belongs to the process image, so unlike ``ru_maxrss`` (kept across exec) it does not
    include the peak of the parent that started us.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(url: str, project_id: int, fmt: str, out: str) -> dict:
    """Run one export in this process and return its figures (the ``--measure`` mode)."""
    started = time.perf_counter()
    from annotator import create_app
    from annotator.extensions import db
    from annotator.models import Project
    from annotator.services import exporting

    app = create_app({"SECRET_KEY": SECRET, "SQLALCHEMY_DATABASE_URI": url})
    baseline = peak_rss_mib()
    records = 0

    def progress():
        nonlocal records
        records += 1

    with app.app_context():
        project = db.session.get(Project, project_id)
        begin = time.perf_counter()
        cpu_begin = time.process_time()
        first_byte = None
        export = exporting.open_export(project, fmt)
        with open(out, "wb") as handle:
            for chunk in export.chunks(progress):
                if first_byte is None:
                    first_byte = time.perf_counter() - begin
                handle.write(chunk)
        seconds = time.perf_counter() - begin
        cpu_seconds = time.process_time() - cpu_begin
    return {"seconds": round(seconds, 3), "cpu_seconds": round(cpu_seconds, 3),
            "load_average": round(os.getloadavg()[0], 1),
            "first_byte_ms": round((first_byte or 0) * 1000, 1),
            "startup_seconds": round(begin - started, 2), "records": records,
            "baseline_rss_mib": round(baseline, 1),
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "bytes": os.path.getsize(out)}


def run_measure(url: str, project_id: int, fmt: str, workdir: str) -> dict:
    out = os.path.join(workdir, f"export.{fmt}")
    result = subprocess.run([sys.executable, __file__, "--measure", url, str(project_id), fmt, out],
                            capture_output=True, text=True, cwd=ROOT, check=False)
    if result.returncode != 0:
        raise SystemExit(f"export {fmt} failed:\n{result.stderr[-3000:]}")
    os.remove(out)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,50000", help="Corpus sizes, growing (default 10000,50000).")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="A PostgreSQL server URL; a scratch database is created next to it.")
    parser.add_argument("--measure", nargs=4, metavar=("URL", "PROJECT", "FORMAT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        url, project_id, fmt, out = args.measure
        print(json.dumps(measure(url, int(project_id), fmt, out)))
        return

    import logging

    import psycopg

    from annotator.config import normalize_database_url

    logging.disable(logging.WARNING)  # Alembic's INFO lines
    sizes = [int(s) for s in args.sizes.split(",")]
    formats = [f for f in args.formats.split(",") if f]
    results = []
    with tempfile.TemporaryDirectory(prefix="export-bench-") as workdir:
        for database in [d for d in args.databases.split(",") if d]:
            scratch = None
            if database == "sqlite":
                url = f"sqlite:///{workdir}/bench.db"
            else:
                scratch = f"annotator_bench_{os.getpid()}"
                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
                    conn.execute(f'CREATE DATABASE "{scratch}"')
                url = normalize_database_url(args.postgres.rsplit("/", 1)[0] + "/" + scratch)
            try:
                state = create_schema(url)
                built = 0
                for size in sizes:
                    began = time.perf_counter()
                    build_corpus(url, built, size, state)
                    print(f"{database}: corpus of {size:,} documents ready "
                          f"(+{size - built:,} in {time.perf_counter() - began:.1f} s)", file=sys.stderr)
                    built = size
                    if database == "postgresql":
                        with psycopg.connect(args.postgres.rsplit("/", 1)[0] + "/" + scratch,
                                             autocommit=True) as conn:
                            conn.execute("VACUUM ANALYZE")
                    for fmt in formats:
                        figures = run_measure(url, state["project_id"], fmt, workdir)
                        figures.update(database=database, documents=size, format=fmt)
                        results.append(figures)
                        print(f"  {fmt:<6} {figures['seconds']:>7.2f} s  {figures['cpu_seconds']:>7.2f} CPU s  "
                              f"peak {figures['peak_rss_mib']:.0f} MiB  load {figures['load_average']}",
                              file=sys.stderr)
            finally:
                if scratch:
                    with psycopg.connect(args.postgres, autocommit=True) as conn:
                        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    print()
    print(f"{'database':<11}{'documents':>10}  {'format':<7}{'seconds':>8}{'CPU s':>8}{'first byte':>12}"
          f"{'records/s':>11}{'peak RSS':>10}{'of which export':>17}{'file':>10}  vs 19.8 s")
    for r in results:
        print(f"{r['database']:<11}{r['documents']:>10,}  {r['format']:<7}{r['seconds']:>8.2f}{r['cpu_seconds']:>8.2f}"
              f"{r['first_byte_ms']:>9.0f} ms{r['records'] / max(r['seconds'], 1e-9):>11,.0f}"
              f"{r['peak_rss_mib']:>6.0f} MiB{r['peak_rss_mib'] - r['baseline_rss_mib']:>13.0f} MiB"
              f"{r['bytes'] / 2**20:>7.0f} MiB  "
              + (f"{BASELINE_SECONDS / r['seconds']:>5.0f}x" if r["documents"] == 10_000 else "    -"))
    print(json.dumps({"benchmark": "export", "results": results}))


if __name__ == "__main__":
    main()
