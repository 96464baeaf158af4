"""Workspace speed on a long article: open time and new-span time in headless Chromium.

Builds a throwaway SQLite database with one 50,000-character article carrying 1,000 spans
(some nested), serves the app in a thread, logs in with Playwright and measures

- open: from navigation start to ``#doc-text[data-ready=true]`` (the ``workspace-ready``
  performance mark), median of several loads;
- new span: from the hotkey's keydown to the new span element in the DOM (a
  MutationObserver), median of several adds.

Usage: ``.venv/bin/python bench/ui.py [--chars 50000] [--spans 1000] [--runs 5]``. Prints the
figures and one JSON line.
"""

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from annotator import create_app  # noqa: E402
from annotator.extensions import db  # noqa: E402
from annotator.models import User  # noqa: E402
from annotator.services import importing  # noqa: E402
from annotator.services import projects  # noqa: E402

CHROMIUM = os.environ.get("ANNOTATOR_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "bench password 123"
WORDS = ("the army said shelling hit western Mosul where almost 100 people died according to medics "
         "a drone struck near the market in حلب and rebels denied any role while 👨🏻‍🚒 crews searched "
         "Médecins reported dozens wounded").split()


def make_article(chars: int, spans: int, rng: random.Random):
    """Return (text, span records): paragraphs of words, ``spans`` spans on whole words, some nested."""
    pos, paragraphs, current = 0, [], []
    while pos < chars:
        word = rng.choice(WORDS)
        current.append(word)
        pos += len(word) + 1
        if len(current) >= 60:
            paragraphs.append(current)
            current = []
    paragraphs.append(current)
    text, offsets = "", []
    for p, paragraph in enumerate(paragraphs):
        if p:
            text += "\n\n"
        for w, word in enumerate(paragraph):
            if w:
                text += " "
            offsets.append((len(text), len(text) + len(word)))
            text += word
    text = text[:chars]
    offsets = [o for o in offsets if o[1] <= len(text)]
    labels = ["ACTOR", "WEAPON", "LOCATION", "CASUALTY_CLAIM"]
    records, i = [], 0
    # Every third word gets a span; every tenth span is a two-word span with a nested one inside.
    while len(records) < spans and i + 1 < len(offsets):
        start, end = offsets[i]
        if len(records) % 10 == 0 and len(records) + 1 < spans:
            outer_end = offsets[i + 1][1]
            records.append({"start": start, "end": outer_end, "label": "CASUALTY_CLAIM"})
            records.append({"start": start, "end": end, "label": "LOCATION"})
        else:
            records.append({"start": start, "end": end, "label": labels[len(records) % 3]})
        i += 3
    return text, records[:spans]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=50_000)
    parser.add_argument("--spans", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=6)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    workdir = tempfile.mkdtemp(prefix="bench-ui-")
    app = create_app({"SECRET_KEY": secrets.token_hex(32), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir}/bench.db",
                      "RATELIMIT_STORAGE_URI": "memory://", "MAX_DOCUMENT_CHARS": 10_000_000})
    rng = random.Random(4)
    text, spans = make_article(args.chars, args.spans, rng)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        user = User(username="bench", role="annotator", password_hash=generate_password_hash(PASSWORD))
        db.session.add(user)
        db.session.commit()
        project = projects.create_project("bench")
        projects.add_members(project, ["bench"])
        report = importing.import_records(project, [(1, {"text": text, "spans": spans})], as_user=user)
        did = report.document_ids[0]
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    open_ms, server_ms, add_ms = [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "bench")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        for _ in range(args.runs):
            page.goto(f"{base}/documents/{did}/annotate")
            page.wait_for_selector("#doc-text[data-ready=true]")
            timing = page.evaluate("""() => ({
                ready: performance.getEntriesByName('workspace-ready')[0].startTime,
                response: performance.getEntriesByType('navigation')[0].responseEnd})""")
            open_ms.append(timing["ready"])
            server_ms.append(timing["response"])
        drawn = page.locator("#doc-text [data-span-id]").count()
        # Words without a span yet, to add spans on.
        free = page.evaluate("""() => {
            const drawn = document.querySelectorAll('#doc-text [data-span-id]');
            const taken = new Set([...drawn].map(e => +e.dataset.start));
            const data = JSON.parse(document.getElementById('workspace-data').textContent);
            return data.document.tokens.filter(([s, e]) => !taken.has(s)).slice(0, 200)
                .filter((_, i) => i % 7 === 3).map(([s, e]) => [s, e]);
        }""")
        for start, end in free[:args.runs * 3]:
            page.evaluate("""([s, e]) => {
                window.__added = null;
                const doc = document.getElementById('doc-text');
                const observer = new MutationObserver(() => {
                  const el = doc.querySelector(`.ann[data-start="${s}"][data-end="${e}"]`);
                  if (el && window.__added === null) { window.__added = performance.now(); observer.disconnect(); }
                });
                observer.observe(doc, {childList: true, subtree: true});
                const stamp = (ev) => { window.__keydown = ev.timeStamp; };
                document.addEventListener('keydown', stamp, {capture: true, once: true});
            }""", [start, end])
            # Select the word with the keyboard model's own API: a DOM range over it, then a mouseup.
            page.evaluate("""async ([s, e]) => {
                const { OffsetIndex } = await import('/static/js/workspace/offsets.js');
                const data = JSON.parse(document.getElementById('workspace-data').textContent);
                const index = new OffsetIndex(data.document.text);
                const { utf16ToRange } = await import('/static/js/workspace/render.js');
                const doc = document.getElementById('doc-text');
                const range = utf16ToRange(doc, index.toUtf16(s), index.toUtf16(e));
                const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
                doc.dispatchEvent(new MouseEvent('mouseup', {bubbles: true, button: 0}));
            }""", [start, end])
            page.keyboard.press("1")
            page.wait_for_function("window.__added !== null")
            add_ms.append(page.evaluate("window.__added - window.__keydown"))
            page.keyboard.press("Escape")
        page.wait_for_selector("#save-state[data-state=saved]")
        browser.close()
    server.shutdown()
    result = {
        "bench": "ui", "chars": len(text), "spans": len(spans), "drawn_span_elements": drawn,
        "open_ms_cold": round(open_ms[0], 1), "open_ms_median": round(statistics.median(open_ms[1:] or open_ms), 1),
        "open_ms_max_warm": round(max(open_ms[1:] or open_ms), 1),
        "html_response_ms_median": round(statistics.median(server_ms), 1),
        "add_span_ms_median": round(statistics.median(add_ms), 2), "add_span_ms_max": round(max(add_ms), 2),
        "runs": args.runs, "adds": len(add_ms),
    }
    print(f"article: {result['chars']:,} characters, {result['spans']:,} spans ({drawn:,} span elements drawn)")
    print(f"open (navigation start -> data-ready): first load {result['open_ms_cold']} ms; then median "
          f"{result['open_ms_median']} ms, max {result['open_ms_max_warm']} ms over {args.runs - 1} loads "
          f"(HTML received at {result['html_response_ms_median']} ms)")
    print(f"new span (keydown -> element in DOM): median {result['add_span_ms_median']} ms, "
          f"max {result['add_span_ms_max']} ms over {len(add_ms)} adds")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
