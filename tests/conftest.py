"""Shared fixtures: a real workspace built from the committed demo catalog, once per test session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo"
SHARED = ROOT.parent / "shared" / "datasets"

# Exported ONNX models are cached across runs; tests never download anything.
os.environ.setdefault("LOOKALIKE_CACHE", str(Path.home() / ".cache" / "lookalike"))


@pytest.fixture(scope="session")
def demo_catalog() -> Path:
    """The committed demo catalog CSV (81 grocery products, 2 images each)."""
    return DEMO / "catalog.csv"


@pytest.fixture(scope="session")
def demo_queries() -> list[tuple[Path, str]]:
    """(query photo, right product id) pairs from demo/queries.csv."""
    import csv

    return [(DEMO / r["query"], r["product_id"]) for r in csv.DictReader(open(DEMO / "queries.csv"))]


@pytest.fixture(scope="session")
def demo_ws(tmp_path_factory, demo_catalog):
    """A workspace with the demo catalog ingested, embedded (efficientnet_lite0) and indexed. Read-only for tests."""
    from lookalike.embed import embed_new
    from lookalike.index.build import build_index
    from lookalike.ingest import ingest
    from lookalike.workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("demo") / "ws")
    ingest(ws, demo_catalog)
    rep = embed_new(ws)
    build_index(ws.catalog, ws.index_dir, rep.model)
    return ws


@pytest.fixture
def ws_copy(demo_ws, tmp_path):
    """A private copy of the demo workspace that a test may change."""
    from lookalike.workspace import Workspace

    demo_ws.catalog.conn().execute("PRAGMA wal_checkpoint(FULL)")
    dst = tmp_path / "ws"
    shutil.copytree(demo_ws.root, dst)
    return Workspace(dst)


@pytest.fixture(scope="session")
def grocery_dir() -> Path:
    """The full grocery_store dataset, when ../shared is present."""
    path = SHARED / "grocery_store"
    if not path.exists():
        pytest.skip(f"needs {path} (the shared datasets folder beside the repo)")
    return path
