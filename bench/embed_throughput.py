"""Ingest + embed throughput (images/s) per built-in model, next to the bare ONNX Runtime speed on preloaded tensors.

    .venv/bin/python bench/embed_throughput.py                      # full grocery_store (5.5k images), all models
    .venv/bin/python bench/embed_throughput.py --limit 500 --models efficientnet_lite0

Each model gets a fresh temp workspace: ingest the manifest, then embed_new. Peak RSS is measured per phase
(the kernel's high-water mark is reset before each). The bare speed is embedder.run() on one preprocessed batch, repeated,
measured right before and right after the pipeline in the same process; ratio = pipeline / mean(bare).
"""

from __future__ import annotations

import argparse
import csv
import gc
import math
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BUILTIN_MODELS, GROCERY, Timer, peak_rss_mb, reset_peak_rss, table, write_result  # noqa: E402

COLS = ["model", "images", "ingest_s", "embed_s", "pipeline_img_s", "end_to_end_img_s", "bare_img_s", "ratio",
        "peak_rss_mb", "load_1m"]


def subset_manifest(manifest: Path, limit: int | None, out: Path, image_column: str = "path") -> Path:
    """A copy of the manifest with `limit` rows spread evenly over it (image paths made absolute)."""
    with open(manifest, newline="") as f:
        rows = list(csv.DictReader(f))
    if limit and limit < len(rows):
        step = len(rows) / limit
        rows = [rows[int(i * step)] for i in range(limit)]
    for r in rows:
        r[image_column] = str((manifest.parent / r[image_column]).resolve())
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return out


def bare_throughput(embedder, paths: list[str], batch_size: int, n_images: int) -> tuple[float, float]:
    """(images/s, peak RSS MiB) of embedder.run on one preloaded, preprocessed batch, repeated for ~n_images."""
    import numpy as np

    from lookalike import images

    reset_peak_rss()
    batch = np.stack([embedder.preprocess(images.load(p)) for p in paths[:batch_size]])
    embedder.run(batch)  # warm-up: first run allocates and plans
    reps = max(1, math.ceil(n_images / len(batch)))
    with Timer() as t:
        for _ in range(reps):
            embedder.run(batch)
    return reps * len(batch) / t.seconds, peak_rss_mb()


def validation_cost(paths: list[str], n: int = 300) -> dict:
    """Per-image ms of ingest's read+hash alone vs read+hash+full decode (single thread, n images)."""
    from lookalike import images

    sample = paths[:: max(1, len(paths) // n)][:n]
    with Timer() as hashing:
        for p in sample:
            images.sha256_bytes(images.read_bytes(p))
    with Timer() as full:
        for p in sample:
            data = images.read_bytes(p)
            images.sha256_bytes(data)
            images.decode(data, p)
    per = 1000 / len(sample)
    return {"hash_ms": hashing.seconds * per, "hash_decode_ms": full.seconds * per,
            "decode_share": 1 - hashing.seconds / full.seconds}


def run_model(model: str, manifest: Path, opts, batch_size: int, bare_images: int) -> dict:
    """Ingest + embed one model into a fresh temp workspace; returns one table row."""
    from lookalike.embed import embed_new
    from lookalike.ingest import ingest
    from lookalike.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="lookalike-bench-") as tmp:
        ws = Workspace(Path(tmp) / "ws")
        reset_peak_rss()
        with Timer() as t_ingest:
            ing = ingest(ws, manifest, opts)
        ingest_rss = peak_rss_mb()
        paths = [r.local_path for r in ws.catalog.images()]
        bare_before, bare_rss = bare_throughput(ws.embedder(model), paths, batch_size, bare_images)
        gc.collect()
        reset_peak_rss()  # the pipeline's peak alone: the bare session is gone
        rep = embed_new(ws, model, batch_size=batch_size)
        embed_rss = peak_rss_mb()
        bare_after, _ = bare_throughput(ws.embedder(model), paths, batch_size, bare_images)
        val = validation_cost(paths)
        ws.catalog.close()
    bare = (bare_before + bare_after) / 2
    return {
        "model": model, "images": rep.embedded, "failed": rep.failed + ing.bad,
        "ingest_s": t_ingest.seconds, "embed_s": rep.seconds, "pipeline_img_s": rep.images_per_second,
        "end_to_end_img_s": rep.embedded / (t_ingest.seconds + rep.seconds),
        "bare_img_s": bare, "bare_before_img_s": bare_before, "bare_after_img_s": bare_after,
        "ratio": rep.images_per_second / bare, "peak_rss_mb": embed_rss, "ingest_peak_rss_mb": ingest_rss,
        "bare_peak_rss_mb": bare_rss, "load_1m": round(os.getloadavg()[0], 2), "validation": val,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--manifest", type=Path, default=GROCERY / "manifest.csv")
    p.add_argument("--id-column", default="path")
    p.add_argument("--image-column", default="path")
    p.add_argument("--models", default=",".join(BUILTIN_MODELS), help="comma-separated model names")
    p.add_argument("--limit", type=int, default=None, help="embed only N images spread over the manifest")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--bare-images", type=int, default=640, help="images pushed through the bare model, per side")
    p.add_argument("--out-dir", type=Path, default=None, help="where NAME.json goes (default bench/results)")
    p.add_argument("--name", default="embed_throughput")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print the table and write the JSON."""
    args = parse_args(argv)
    from lookalike.catalog_readers import CatalogOptions

    opts = CatalogOptions(id_column=args.id_column, image_columns=[args.image_column])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        manifest = subset_manifest(args.manifest, args.limit, Path(tmp) / "manifest.csv", args.image_column)
        for model in args.models.split(","):
            rows.append(run_model(model.strip(), manifest, opts, args.batch_size, args.bare_images))
            print(table(rows[-1:], COLS), flush=True)
    print(table(rows, COLS))
    print(table([{"model": r["model"], **r["validation"]} for r in rows]))
    result = {"limit": args.limit, "batch_size": args.batch_size, "threads": os.environ.get("LOOKALIKE_THREADS"),
              "rows": rows}
    path = write_result(args.name, result, args.out_dir)
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
