"""In-process, warm latency (p50/p99) of photo search and similar, and the time to export the similar table.

    .venv/bin/python bench/search_latency.py                       # /work/ws/grocery, efficientnet_lite0
    .venv/bin/python bench/search_latency.py --limit 20 --no-export

search = decode one photo's bytes + embed it + index search + product aggregation; similar = product lookup +
search. Query photos are the workspace's images matching --photos (grocery: the test split); similar queries
are products spread over the catalog. Each case's peak RSS is the process high-water mark during that case.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import GROCERY_WS, Timer, peak_rss_mb, percentiles_ms, reset_peak_rss, table, write_result  # noqa: E402

COLS = ["case", "n", "p50_ms", "p99_ms", "mean_ms", "peak_rss_mb"]
EXPORT_COLS = ["catalog", "products", "k", "seconds", "products_per_s", "peak_rss_mb"]


def spread(items: list, n: int) -> list:
    """n items spread evenly over a list."""
    step = max(1, len(items) // max(1, n))
    return items[::step][:n]


def time_case(name: str, fn, args: list, warmup: int = 3) -> dict:
    """Call fn(arg) for each arg after a warm-up; latency percentiles and the case's peak RSS."""
    for a in args[:warmup]:
        fn(a)
    reset_peak_rss()
    seconds = []
    for a in args:
        t = time.perf_counter()
        fn(a)
        seconds.append(time.perf_counter() - t)
    return {"case": name, **percentiles_ms(seconds), "peak_rss_mb": peak_rss_mb()}


def query_photos(ws, select: str, n: int) -> list[bytes]:
    """Bytes of n workspace images whose product matches key=value (any images when none match)."""
    from lookalike.search import matches, parse_filters

    flt = parse_filters([select]) if select else {}
    meta = ws.catalog.products()
    rows = ws.catalog.images()
    picked = [r for r in rows if matches(meta.get(r.product_id, {}), flt)] or rows
    return [Path(r.local_path or r.source).read_bytes() for r in spread(picked, n)]


def latency_cases(searcher, photos: list[bytes], pids: list[str], filters: list[str], k: int) -> list[dict]:
    """Every latency case: plain, filtered and multi-image search; plain and filtered similar."""
    from lookalike import images
    from lookalike.search import parse_filters

    decode = lambda b: images.decode(b, "query")  # noqa: E731
    triples = [photos[i : i + 3] for i in range(0, len(photos) - 2)]
    qvec = {id(b): searcher.embedder.embed([decode(b)]) for b in photos}
    rows = [
        time_case("embed photo (decode+model)", lambda b: searcher.embedder.embed([decode(b)]), photos),
        time_case("index search + aggregate", lambda b: searcher.search_vectors(qvec[id(b)], k), photos),
        time_case("search photo", lambda b: searcher.search_images([decode(b)], k), photos),
        time_case("search 3 photos", lambda bs: searcher.search_images([decode(b) for b in bs], k), triples),
        time_case("similar", lambda p: searcher.similar(p, k), pids),
    ]
    for f in filters:
        flt = parse_filters([f])
        rows.append(time_case(f"search photo --filter {f}", lambda b: searcher.search_images([decode(b)], k, flt),
                              photos))
        rows.append(time_case(f"similar --filter {f}", lambda p: searcher.similar(p, k, flt), pids))
    return rows


def small_workspace(ws, model: str, select: str, root: Path):
    """A new workspace holding only the products matching key=value, with their stored vectors (no re-embedding)."""
    from lookalike.catalog_readers import CatalogOptions
    from lookalike.index.build import build_index
    from lookalike.ingest import ingest
    from lookalike.search import matches, parse_filters
    from lookalike.store import image_of
    from lookalike.workspace import Workspace

    flt, meta = parse_filters([select]), ws.catalog.products()
    keep = [r for r in ws.catalog.images() if matches(meta.get(r.product_id, {}), flt)]
    keys = sorted({key for r in keep for key in meta[r.product_id]})
    with open(root / "catalog.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "image", *keys])
        w.writerows([r.product_id, r.local_path or r.source, *(meta[r.product_id].get(c, "") for c in keys)] for r in keep)
    small = Workspace(root / "ws")
    ingest(small, root / "catalog.csv", CatalogOptions(id_column="id", image_columns=["image"]))
    new_id = {r.sha256: r.id for r in small.catalog.images()}
    old = {r.id: r.sha256 for r in keep}
    ids, vecs = ws.catalog.embeddings(model)
    version = ws.catalog.conn().execute("SELECT model_version FROM embeddings WHERE model=? LIMIT 1", (model,)).fetchone()[0]
    rows = [(new_id[old[int(img)]], int(vid) % 16, old[int(img)], v)
            for vid, img, v in zip(ids, image_of(ids), vecs) if int(img) in old]
    small.catalog.put_embeddings(model, version, rows)
    build_index(small.catalog, small.index_dir, model)
    return small


def export_case(name: str, ws, model: str, k: int) -> dict:
    """Time lookalike.export.similar_table over a whole catalog (Searcher opened fresh, inside the timing)."""
    from lookalike.export import similar_table
    from lookalike.search import Searcher

    reset_peak_rss()
    with Timer() as t:
        rows = similar_table(Searcher(ws, model), k)
    products = len({r["product_id"] for r in rows})
    return {"catalog": name, "products": products, "k": k, "seconds": t.seconds,
            "products_per_s": products / t.seconds, "peak_rss_mb": peak_rss_mb()}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workspace", type=Path, default=GROCERY_WS)
    p.add_argument("--model", default="efficientnet_lite0")
    p.add_argument("--limit", type=int, default=200, help="timed queries per case")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--photos", default="split=test", help="key=value picking query photos from the workspace")
    p.add_argument("--filter", action="append", default=None, help="key=value filter cases (repeatable)")
    p.add_argument("--small-catalog", default="domain=iconic", help="key=value: the small catalog for export")
    p.add_argument("--no-export", action="store_true", help="skip the similar-table export timings")
    p.add_argument("--out-dir", type=Path, default=None)
    p.add_argument("--name", default="search_latency")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Run every case, print the tables and write the JSON."""
    from lookalike.search import Searcher
    from lookalike.workspace import Workspace

    args = parse_args(argv)
    filters = args.filter if args.filter is not None else ["group=Packages", "domain=iconic"]
    ws = Workspace(args.workspace, create=False)
    with Timer() as t_open:
        searcher = Searcher(ws, args.model)
        searcher.embedder  # noqa: B018 - open the ONNX session outside the timings
    photos = query_photos(ws, args.photos, args.limit)
    pids = spread(sorted(searcher.metadata), args.limit)
    rows = latency_cases(searcher, photos, pids, filters, args.k)
    print(table(rows, COLS))
    exports = []
    if not args.no_export:
        with tempfile.TemporaryDirectory(prefix="lookalike-bench-") as tmp:
            small = small_workspace(ws, args.model, args.small_catalog, Path(tmp))
            exports.append(export_case(args.small_catalog, small, args.model, args.k))
            small.catalog.close()
        exports.append(export_case("whole workspace", ws, args.model, args.k))
        print(table(exports, EXPORT_COLS))
    result = {"workspace": str(args.workspace), "model": args.model, "k": args.k, "index_vectors": len(searcher.index),
              "open_s": t_open.seconds, "latency": rows, "export": exports}
    print(f"wrote {write_result(args.name, result, args.out_dir)}")
    return result


if __name__ == "__main__":
    main()
