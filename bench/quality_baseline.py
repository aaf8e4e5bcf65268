"""First quality numbers: Recall@1/@5 of grocery_store test photos -> the 81 iconic catalog images, per model.

    .venv/bin/python bench/quality_baseline.py                 # every model embedded in /work/ws/grocery

Reads the stored embeddings (nothing is re-embedded). Query = images with split=test, gallery = images with
domain=iconic, relevant = same instance_id. Uses lookalike.evaluate.knn_recall when present, else plain NumPy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BUILTIN_MODELS, GROCERY_WS, Timer, peak_rss_mb, table, write_result  # noqa: E402

COLS = ["model", "queries", "gallery", "recall@1", "recall@5", "seconds", "peak_rss_mb"]


def numpy_recall(qvecs: np.ndarray, qlabels: list, gvecs: np.ndarray, glabels: list, ks=(1, 5)) -> dict[int, float]:
    """Recall@k by brute-force inner product: a query counts when a same-label gallery item is in its top k."""
    order = np.argsort(-(qvecs @ gvecs.T), axis=1, kind="stable")[:, : max(ks)]
    hit = np.asarray(glabels, dtype=object)[order] == np.asarray(qlabels, dtype=object)[:, None]
    has_rel = np.isin(np.asarray(qlabels, dtype=object), np.asarray(glabels, dtype=object))
    return {k: float(hit[has_rel, :k].any(axis=1).mean()) for k in ks}


def recall(qvecs, qlabels, gvecs, glabels, ks=(1, 5)) -> tuple[dict[int, float], str]:
    """Recall@k with the library's evaluator when it exists, cross-checked against NumPy; (recalls, source)."""
    plain = numpy_recall(qvecs, qlabels, gvecs, glabels, ks)
    try:
        from lookalike.evaluate.metrics import knn_recall
    except ImportError:
        return plain, "numpy"
    lib = knn_recall(qvecs, np.asarray(qlabels), gvecs, np.asarray(glabels), ks)
    if any(abs(lib[k] - plain[k]) > 1e-9 for k in ks):
        print(f"warning: knn_recall {lib} disagrees with the NumPy oracle {plain}", file=sys.stderr)
    return lib, "lookalike.evaluate.knn_recall (matches numpy)" if lib == plain else "lookalike.evaluate.knn_recall"


def split_vectors(ws, model: str, query: tuple[str, str], gallery: tuple[str, str], label: str):
    """(query vecs, labels, gallery vecs, labels) of one model, selected by metadata key=value."""
    from lookalike.store import image_of

    ids, vecs = ws.catalog.embeddings(model, views=[0])
    image_product = ws.catalog.image_products()
    meta = ws.catalog.products()
    metas = [meta.get(image_product.get(int(i)), {}) for i in image_of(ids)]
    pick = lambda key, val: np.array([str(m.get(key)) == val for m in metas], dtype=bool)  # noqa: E731
    q, g = pick(*query), pick(*gallery)
    labels = np.array([str(m.get(label)) for m in metas], dtype=object)
    return vecs[q], list(labels[q]), vecs[g], list(labels[g])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workspace", type=Path, default=GROCERY_WS)
    p.add_argument("--models", default=None, help="comma-separated (default: every built-in model embedded there)")
    p.add_argument("--query", default="split=test", help="key=value selecting query images")
    p.add_argument("--gallery", default="domain=iconic", help="key=value selecting gallery images")
    p.add_argument("--label", default="instance_id", help="metadata key that decides relevance")
    p.add_argument("--out-dir", type=Path, default=None)
    p.add_argument("--name", default="quality_baseline")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Compute, print and write the recall table."""
    from lookalike.workspace import Workspace

    args = parse_args(argv)
    ws = Workspace(args.workspace, create=False)
    embedded = ws.catalog.embedded_models()
    models = args.models.split(",") if args.models else [m for m in BUILTIN_MODELS if m in embedded]
    query, gallery = tuple(args.query.split("=", 1)), tuple(args.gallery.split("=", 1))
    rows, impl = [], "numpy"
    for model in models:
        with Timer() as t:
            qv, ql, gv, gl = split_vectors(ws, model, query, gallery, args.label)
            if not ql or not gl:
                print(f"skipped {model}: {len(ql)} query and {len(gl)} gallery images embedded so far")
                continue
            rec, impl = recall(qv, ql, gv, gl)
        rows.append({"model": model, "queries": len(ql), "gallery": len(gl), "recall@1": rec[1],
                     "recall@5": rec[5], "seconds": t.seconds, "peak_rss_mb": peak_rss_mb()})
    print(table(rows, COLS))
    result = {"workspace": str(args.workspace), "query": args.query, "gallery": args.gallery, "label": args.label,
              "implementation": impl, "rows": rows}
    print(f"wrote {write_result(args.name, result, args.out_dir)}")
    return result


if __name__ == "__main__":
    main()
