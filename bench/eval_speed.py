"""Speed of exact evaluation: N queries x N gallery, every metric, with and without bootstrap intervals.

    .venv/bin/python bench/eval_speed.py               # N = 1000, 5000 with 1280-d synthetic vectors
    .venv/bin/python bench/eval_speed.py --n 5000 --dim 1280 --classes 81

Synthetic, structured vectors (class centres plus noise) so that rankings are realistic; the metric code is the
same one `lookalike eval` runs on cached workspace embeddings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Timer, peak_rss_mb, table, write_result  # noqa: E402

from lookalike.evaluate.bootstrap import bootstrap_ci  # noqa: E402
from lookalike.evaluate.metrics import score_queries  # noqa: E402

COLS = ["n_queries", "n_gallery", "dim", "rank_and_score_s", "bootstrap_all_metrics_s", "recall@1", "peak_rss_mb"]


def synthetic(centres: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around the given class centres (noise as large as the centres: a hard but real task)."""
    rng = np.random.default_rng(seed)
    classes, dim = centres.shape
    labels = rng.integers(0, classes, n)
    vecs = centres[labels] + 4.0 * rng.normal(size=(n, dim)).astype(np.float32)
    return (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32), labels


def run(n: int, dim: int, classes: int) -> dict:
    """Time one N x N evaluation."""
    centres = np.random.default_rng(42).normal(size=(classes, dim)).astype(np.float32)
    q, ql = synthetic(centres, n, 0)
    g, gl = synthetic(centres, n, 1)
    with Timer() as t:
        scores = score_queries(q, ql, g, gl)
    with Timer() as b:
        for v in scores.values.values():
            bootstrap_ci(v)
    return {"n_queries": n, "n_gallery": n, "dim": dim, "rank_and_score_s": t.seconds,
            "bootstrap_all_metrics_s": b.seconds, "recall@1": scores.summary()["recall@1"],
            "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    """Print the table and write bench/results/eval_speed.json."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1000, 5000])
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--classes", type=int, default=81)
    args = ap.parse_args()
    rows = [run(n, args.dim, args.classes) for n in args.n]
    print(table(rows, COLS))
    print(write_result("eval_speed", {"rows": rows, "args": vars(args)}))


if __name__ == "__main__":
    main()
