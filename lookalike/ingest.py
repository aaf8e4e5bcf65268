"""Ingest a catalog into a workspace: incremental, batch-committed, and tolerant of bad items."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import images
from .catalog_readers import CatalogOptions, ProductRecord, is_url, read_catalog
from .download import fetch
from .errors import BadImage
from .workspace import Workspace

BATCH = 128


@dataclass
class IngestReport:
    """What an ingest run did, and every item it could not take."""

    run_id: int
    products: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    bad: int = 0
    removed_products: int = 0
    removed_images: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)

    def stats(self) -> dict:
        """Counts as a dict, for runs and --json."""
        return {k: v for k, v in self.__dict__.items() if k != "problems"}


def check_image(ws: Workspace, source: str, data: bytes | None = None) -> dict:
    """Read (or download) and fully decode one image; returns the row fields, with status and error."""
    try:
        if data is None:
            data = fetch(source) if is_url(source) else images.read_bytes(source)
        sha = images.sha256_bytes(data)
        img = images.decode(data, name=source)
    except BadImage as e:
        return {"status": "error", "error": e.message}
    info = {"status": "ok", "sha256": sha, "bytes": len(data), "width": img.width, "height": img.height}
    info["local_path"] = str(ws.store_blob(data, sha, _suffix(source))) if is_url(source) else source
    return info


def _suffix(source: str) -> str:
    s = Path(source.split("?")[0]).suffix.lower()
    return s if s in {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"} else ".img"


def _local_hash(source: str) -> str | None:
    try:
        return images.sha256_bytes(images.read_bytes(source))
    except BadImage:
        return None


def ingest(
    ws: Workspace,
    catalog: str | Path,
    opts: CatalogOptions | None = None,
    keep_missing: bool = False,
    workers: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Ingest a folder, CSV or JSONL catalog. Each batch commits on its own, so a kill loses nothing done."""
    opts = opts or CatalogOptions()
    records, problems = read_catalog(catalog, opts)
    origin = str(Path(catalog).resolve())
    run_id = ws.catalog.start_run("ingest", {"catalog": origin, "keep_missing": keep_missing})
    report = IngestReport(run_id, products=len(records), problems=list(problems))
    known = ws.catalog.image_hashes()
    total = sum(len(r.sources) for r in records)
    done = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for start in range(0, len(records), BATCH):
            batch = records[start : start + BATCH]
            _ingest_batch(ws, pool, batch, known, run_id, origin, report)
            done += sum(len(r.sources) for r in batch)
            if progress:
                progress(done, total)
    if not keep_missing:
        report.removed_products, report.removed_images = ws.catalog.remove_unseen(run_id, origin)
    ws.catalog.add_problems(run_id, report.problems)
    ws.catalog.finish_run(run_id, "done", report.stats())
    return report


def _ingest_batch(ws, pool, batch: list[ProductRecord], known: dict, run_id: int, origin: str, report: IngestReport) -> None:
    keys = [(rec.id, src) for rec in batch for src in rec.sources]
    unchanged_keys, todo = [], []
    hashes = list(pool.map(lambda k: None if is_url(k[1]) else _local_hash(k[1]), keys))
    for key, sha in zip(keys, hashes):
        prev = known.get(key)
        url_done = is_url(key[1]) and prev is not None and prev[1] == "ok"
        if prev is not None and prev[1] == "ok" and (url_done or (sha is not None and sha == prev[0])):
            unchanged_keys.append(key)
        else:
            todo.append(key)
    infos = list(pool.map(lambda k: check_image(ws, k[1]), todo))
    with ws.catalog.transaction() as c:
        for rec in batch:
            ws.catalog.upsert_product(c, rec.id, rec.metadata, run_id, origin)
        ws.catalog.mark_seen(c, run_id, unchanged_keys)
        for (pid, src), info in zip(todo, infos):
            _, _ = ws.catalog.upsert_image(c, pid, src, info, run_id)
            if info["status"] != "ok":
                report.bad += 1
                report.problems.append((f"{pid}: {src}", info["error"]))
            elif (pid, src) in known:
                report.changed += 1
            else:
                report.new += 1
    report.unchanged += len(unchanged_keys)


def add_product(ws: Workspace, pid: str, metadata: dict, uploads: list[tuple[str, bytes]], urls: list[str]) -> dict:
    """Add or update one product from uploaded bytes and URLs (the API's write path)."""
    results = []
    for name, data in uploads:
        info = check_image(ws, name, data=data)
        if info["status"] == "ok":
            info["local_path"] = str(ws.store_blob(data, info["sha256"], _suffix(name)))
            source = f"upload:{info['sha256']}"
        else:
            source = f"upload:{name}"
        results.append((source, info))
    for url in urls:
        results.append((url, check_image(ws, url)))
    bad = [(src, info["error"]) for src, info in results if info["status"] != "ok"]
    if bad:  # nothing is written when any image is bad, so a retry starts clean
        raise BadImage("; ".join(f"{s}: {e}" for s, e in bad))
    run_id = ws.catalog.start_run("add_product", {"id": pid})
    with ws.catalog.transaction() as c:
        ws.catalog.upsert_product(c, pid, metadata, run_id, origin="api")
        ids = [ws.catalog.upsert_image(c, pid, src, info, run_id)[0] for src, info in results]
    ws.catalog.finish_run(run_id, "done", {"images": len(ids)})
    return {"id": pid, "image_ids": ids}
