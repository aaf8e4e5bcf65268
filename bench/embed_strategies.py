"""Embedding throughput (images/s) per strategy: sequential vs Ray actors, on the demo catalog or a grocery subset.

    .venv/bin/python bench/embed_strategies.py                       # demo catalog (162 images), ray 1 and 2 workers
    .venv/bin/python bench/embed_strategies.py --catalog ../shared/datasets/grocery_store/... --workers 1 2 4

One temp workspace; each strategy starts from no embeddings. Ray's startup (ray.init + actors opening the model)
is timed separately from the embedding itself, because on a cluster it is paid once per job.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Timer, table, write_result  # noqa: E402

COLS = ["run", "strategy", "workers", "images", "ray_start_s", "embed_s", "img_s", "img_s_incl_start"]


def run_one(ws, model: str, strategy: str, workers: int) -> dict:
    """Embed the workspace from scratch with one strategy."""
    from lookalike.distribute import embed

    ws.catalog.delete_embeddings(model)
    start = 0.0
    if strategy == "ray":
        import ray

        t0 = time.perf_counter()
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        start = time.perf_counter() - t0
    try:
        with Timer() as t:
            rep = embed(ws, model, strategy=strategy, workers=workers)
    finally:
        if strategy == "ray":
            ray.shutdown()
    # the report's seconds exclude ray.init (done above) but include actors opening the model
    return {"strategy": strategy, "workers": workers, "images": rep.embedded, "ray_start_s": start,
            "embed_s": t.seconds, "img_s": rep.embedded / t.seconds,
            "img_s_incl_start": rep.embedded / (t.seconds + start)}


def main() -> None:
    """Parse args, run each strategy once, print the table and write bench/results/embed_strategies.json."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalog", type=Path, default=ROOT / "demo" / "catalog.csv")
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    from lookalike.ingest import ingest
    from lookalike.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "ws")
        ingest(ws, args.catalog)
        ws.embedder(args.model)  # export/open once so no strategy pays the ONNX export
        runs = [("sequential", 2)] + [("ray", w) for w in args.workers]
        rows = []
        for rep in range(args.repeat):  # alternate the order so neither strategy always runs on a warmer machine
            for strategy, workers in runs if rep % 2 == 0 else runs[::-1]:
                rows.append({**run_one(ws, args.model, strategy, workers), "run": rep + 1})
    print(table(rows, COLS))
    path = write_result("embed_strategies", {"catalog": str(args.catalog), "model": args.model, "rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
