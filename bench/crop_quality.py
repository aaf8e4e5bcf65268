"""Query cropping on grocery_store: test photos -> the 81 iconic catalog images, Recall@1/@5 and added latency.

    LOOKALIKE_CACHE=/work/ws/cache python bench/crop_quality.py --dataset ../shared/datasets/grocery_store --limit 600

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
from crop_gallery import gallery_workspace, test_queries

from lookalike import images
from lookalike.crop import create_cropper, search_with_crop
from lookalike.search import Searcher
from lookalike.workspace import Workspace

BUILTIN_MODELS = ["efficientnet_lite0", "mobilenet_v2", "efficientnet_lite1", "efficientnet_lite2"]


def croppers(variants: bool) -> dict[str, object]:
    """The croppers to compare, by label: the registered defaults, plus their variants when asked."""
    out = {"none": "none", "saliency": "saliency", "center": "center", "multiscale": "multiscale"}
    if variants:
        out.update({
            "saliency(spectral)": create_cropper("saliency", method="spectral"),
            "center(0.5)": create_cropper("center", scale=0.5),
            "multiscale(margin)": create_cropper("multiscale", select="margin"),
            "multiscale(fuse)": create_cropper("multiscale", select="fuse"),
            "multiscale(4 crops)": create_cropper("multiscale", scales=(0.8, 0.6, 0.5)),
        })
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
                "p50_ms": 1000 * float(np.median(times[c])), "added_ms": 1000 * (float(np.median(times[c])) - base),
                "cost_x": float(np.median(times[c])) / base, "queries": len(queries)} for c in crops}


def print_table(results: dict) -> None:
    """One row per model and cropper."""
    print(f"{'model':24s} {'cropper':22s} {'R@1':>6s} {'R@5':>6s} {'p50 ms':>8s} {'added':>8s} {'cost':>6s}  n")
    for model, rows in results.items():
        for c, r in rows.items():
            print(f"{model:24s} {c:22s} {r['recall@1']:6.3f} {r['recall@5']:6.3f} {r['p50_ms']:8.1f} "
                  f"{r['added_ms']:+8.1f} {r['cost_x']:5.2f}x  {r['queries']}")


def main() -> None:
    """Parse arguments, run every model, print the table, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="../shared/datasets/grocery_store", help="grocery_store folder")
    ap.add_argument("--onnx-dir", default=None, help="use exported ONNX files from this folder (no weight wheels)")
    ap.add_argument("--models", default=",".join(BUILTIN_MODELS))
    ap.add_argument("--train-workspace", default=None, help="also run the trained models registered there")
    ap.add_argument("--trained", default=None, help="which trained model of --train-workspace (default: all)")
    ap.add_argument("--limit", type=int, default=600, help="test photos, sampled per product (0 = all 2485)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", action="store_true", help="also run cropper variants (methods, select modes)")
    ap.add_argument("--croppers", default=None, help="only these croppers (comma-separated labels)")
    ap.add_argument("--out", default="bench/results/crop_quality.json")
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
    with tempfile.TemporaryDirectory() as tmp:
        onnx_dir = Path(args.onnx_dir) if args.onnx_dir else None
        gallery = gallery_workspace(Path(args.dataset), Path(tmp) / "gallery", models, train, onnx_dir)
        for model in models:
            t0 = time.perf_counter()
            results[model] = run_model(gallery, model, queries, crops)
            print(f"{model}: {len(queries)} queries x {len(crops)} croppers in {time.perf_counter() - t0:.0f}s",
                  flush=True)
    print_table(results)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(out.read_text()) if out.exists() else {}
    key = f"limit={args.limit or 'all'},seed={args.seed}"
    entry = old.setdefault(key, {"queries": len(queries), "results": {}, "commands": []})
    for model, rows in results.items():  # runs with other models or croppers add to the same sample's table
        entry["results"].setdefault(model, {}).update(rows)
    entry["commands"].append(" ".join(["python", *sys.argv]))
    out.write_text(json.dumps(old, indent=1))
    print(f"wrote {out} [{key}]")


if __name__ == "__main__":
    main()
