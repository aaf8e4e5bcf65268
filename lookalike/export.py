"""The precomputed similar-products table for the whole catalog, as CSV, JSON or Parquet."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

from .errors import BadInput
from .search import Searcher, matches
from .store import image_of

FORMATS = ("csv", "json", "jsonl", "parquet")


def similar_table(searcher: Searcher, k: int, filters: dict | None = None,
                  progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """Rows (product_id, rank, similar_id, score) for every product that has vectors.

    Filters restrict the *recommended* products; every product gets its list.
    """
    embedded = {searcher.image_product.get(int(i)) for i in image_of(searcher._vector_ids())}
    pids = sorted(p for p in searcher.metadata if p in embedded)
    rows: list[dict] = []
    for n, pid in enumerate(pids, 1):
        for hit in searcher.similar(pid, k, filters):
            rows.append({"product_id": pid, "rank": hit.rank, "similar_id": hit.product_id, "score": round(hit.score, 6)})
        if progress and (n % 50 == 0 or n == len(pids)):
            progress(n, len(pids))
    return rows


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
