"""The precomputed similar-products table for the whole catalog, as CSV, JSON or Parquet."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import BadInput
from .search import Hit, Searcher, combine_queries, first_depth, matches
from .store import image_of

FORMATS = ("csv", "json", "jsonl", "parquet")


#: products whose similar lists are computed with one index search
BATCH = 256


def similar_table(searcher: Searcher, k: int, filters: dict | None = None,
                  progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """Rows (product_id, rank, similar_id, score) for every product that has vectors.

    Filters restrict the *recommended* products; every product gets its list.
    """
    embedded = {searcher.image_product.get(int(i)) for i in image_of(searcher.vector_ids())}
    pids = sorted(p for p in searcher.metadata if p in embedded)
    if k < 1:
        raise BadInput(f"k must be at least 1, got {k}")
    allowed = searcher.allowed_ids(filters) if filters else None
    rows: list[dict] = []
    for start in range(0, len(pids), BATCH):
        chunk = pids[start : start + BATCH]
        for pid, hits in zip(chunk, _similar_batch(searcher, chunk, k, filters, allowed)):
            rows.extend({"product_id": pid, "rank": h.rank, "similar_id": h.product_id, "score": round(h.score, 6)}
                        for h in hits)
        if progress:
            progress(start + len(chunk), len(pids))
    return rows


def _similar_batch(searcher: Searcher, pids: list[str], k: int, filters: dict | None, allowed) -> list[list[Hit]]:
    """searcher.similar() for many products with one index search; a product left short is redone alone."""
    queries = np.concatenate([combine_queries(searcher.product_vectors(pid)) for pid in pids])
    limit = len(searcher.index) if allowed is None else len(allowed)
    depth = first_depth(k, 1, limit)
    scores, ids = searcher.index.search(queries, depth, allowed)
    out = []
    for i, pid in enumerate(pids):
        best = searcher.best_products(scores[i : i + 1], ids[i : i + 1], {pid})
        enough = len(best) >= k or depth >= limit
        out.append(searcher.ranked_hits(best, k) if enough else searcher.similar(pid, k, filters))
    return out


def write_table(rows: list[dict], path: str | Path, fmt: str | None = None) -> Path:
    """Write rows in the format named by fmt or by the file suffix."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise BadInput(f"unknown export format {fmt!r}; use a .csv, .json, .jsonl or .parquet file, or --format")
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = ["product_id", "rank", "similar_id", "score"]
    if fmt == "csv":
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            w.writerows(rows)
    elif fmt == "json":
        path.write_text(json.dumps(rows, ensure_ascii=False))
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    else:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise BadInput("Parquet export needs pyarrow. Run: pip install pyarrow, or export to .csv") from None
        pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema(
            [("product_id", pa.string()), ("rank", pa.int32()), ("similar_id", pa.string()), ("score", pa.float32())]
        )), path)
    return path


__all__ = ["similar_table", "write_table", "matches", "FORMATS"]
