"""kill -9 in the middle of ingest or embed loses nothing committed, and the next run resumes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lookalike.embed import embed_new
from lookalike.ingest import ingest
from lookalike.workspace import Workspace

DEMO_IMAGES = sorted((Path(__file__).parents[1] / "demo" / "images").glob("*.jpg"))


def _count(db: Path, sql: str) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as c:
            return int(c.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


def _run_and_kill(args: list[str], db: Path, sql: str, at_least: int, total: int) -> int:
    """Start the CLI, kill -9 it once `sql` counts at least `at_least` rows; returns the count at the kill."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "LOOKALIKE_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "lookalike", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            n = _count(db, sql)
            if n >= at_least:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return n
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            proc.kill()
    pytest.fail(f"the process ended (rc={proc.returncode}) before it could be killed mid-run")
    return total


@pytest.mark.slow
def test_kill_during_ingest_then_resume(tmp_path):
    root = tmp_path / "photos"
    root.mkdir()
    total = 2400
    for i in range(total):  # hard links: many files, little disk
        os.link(DEMO_IMAGES[i % len(DEMO_IMAGES)], root / f"p{i:05d}.jpg")
    ws_dir = tmp_path / "ws"
    db = ws_dir / "lookalike.db"
    killed_at = _run_and_kill(["ingest", str(root), "-w", str(ws_dir)], db, "SELECT COUNT(*) FROM images", 128, total)
    assert 0 < killed_at < total
    ws = Workspace(ws_dir)
    assert ws.catalog.count("images") >= killed_at  # every committed batch survived
    rep = ingest(ws, root)
    assert rep.unchanged >= killed_at and rep.new + rep.unchanged == total and rep.bad == 0
    assert ws.catalog.count("images") == total


@pytest.mark.slow
def test_kill_during_embed_then_resume(tmp_path, demo_catalog):
    ws = Workspace(tmp_path / "ws")
    ingest(ws, demo_catalog)
    total = ws.catalog.count("images")
    killed_at = _run_and_kill(["index", "-w", str(ws.root), "--batch-size", "8"], ws.root / "lookalike.db",
                              "SELECT COUNT(*) FROM embeddings", 16, total)
    assert 0 < killed_at < total
    rep = embed_new(ws)
    assert 0 < rep.embedded <= total - killed_at  # only what the killed run had not committed
    assert ws.catalog.count("embeddings") == total
    assert embed_new(ws).embedded == 0
