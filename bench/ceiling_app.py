"""The bare stack: a minimal Flask JSON endpoint, served by gunicorn like the real app.

bench/load.py runs the same client against it, so the service's throughput can be given as a
share of what Flask + gunicorn can do at all on this machine (``ceiling_ratio``).
"""

from flask import Flask

app = Flask(__name__)


@app.get("/ping")
def ping():
    return {"ok": True}
