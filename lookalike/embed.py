"""Embed what is new: reader (decode in threads) -> mapper (ONNX Runtime) -> writer (SQLite), per batch."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from . import images
from .errors import BadImage, BadInput
from .store import ImageRow
from .workspace import Workspace

#: index-time augmentations; the position is the view number stored with each vector
VIEWS = ("orig", "hflip", "rot90", "rot180", "rot270", "vflip")
_TRANSPOSE = {
    "hflip": Image.Transpose.FLIP_LEFT_RIGHT,
    "rot90": Image.Transpose.ROTATE_90,
    "rot180": Image.Transpose.ROTATE_180,
    "rot270": Image.Transpose.ROTATE_270,
    "vflip": Image.Transpose.FLIP_TOP_BOTTOM,
}


def view_ids(augment: list[str] | None) -> list[int]:
    """View numbers for 'orig' plus the named augmentations."""
    names = ["orig"] + [a for a in (augment or []) if a != "orig"]
    bad = [a for a in names if a not in VIEWS]
    if bad:
        raise BadInput(f"unknown augmentation {bad[0]!r}; choose from: {', '.join(VIEWS[1:])}")
    return sorted({VIEWS.index(a) for a in names})


@dataclass
class EmbedReport:
    """What an embed run did."""

    model: str
    embedded: int = 0
    failed: int = 0
    seconds: float = 0.0
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        """Throughput of the whole pipeline."""
        return self.embedded / self.seconds if self.seconds > 0 else 0.0


def read_image(row: ImageRow, preprocess, views: list[int]) -> tuple[ImageRow, np.ndarray | None, str | None]:
    """Reader: one catalog image -> (row, views x CHW array, None), or (row, None, reason) when it cannot be read."""
    try:
        img = images.load(row.local_path or row.source)
    except BadImage as e:
        return row, None, e.message
    arrs = [preprocess(img if v == 0 else img.transpose(_TRANSPOSE[VIEWS[v]])) for v in views]
    return row, np.stack(arrs), None


def _batches(rows: list[ImageRow], size: int) -> Iterator[list[ImageRow]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def run_adaptive(embedder, batch: np.ndarray) -> np.ndarray:
    """Run a batch, halving it when the runtime runs out of memory."""
    try:
        return embedder.run(batch)
    except (MemoryError, RuntimeError) as e:
        if len(batch) == 1 or ("alloc" not in str(e).lower() and not isinstance(e, MemoryError)):
            raise
        half = len(batch) // 2
        return np.concatenate([run_adaptive(embedder, batch[:half]), run_adaptive(embedder, batch[half:])])


def embed_new(
    ws: Workspace,
    model: str | None = None,
    augment: list[str] | None = None,
    batch_size: int = 32,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    export: bool = True,
) -> EmbedReport:
    """Embed every good image whose vectors for `model` are missing or stale; commit per batch.

    export=False refuses to export a model that has no ONNX file yet (the server passes it).
    """
    embedder = ws.embedder(model, export=export)
    views = view_ids(augment)
    todo = ws.catalog.stale_images(embedder.name, embedder.version, views)
    report = EmbedReport(embedder.name)
    t0 = time.perf_counter()
    per_batch = max(1, batch_size // len(views))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: list[Future] | None = None
        for chunk in _batches(todo, per_batch):
            futures = [pool.submit(read_image, r, embedder.preprocess, views) for r in chunk]
            if pending is not None:  # decode the next batch while this one runs
                _embed_and_write(ws, embedder, pending, views, report)
                if progress:
                    progress(report.embedded + report.failed, len(todo))
            pending = futures
        if pending is not None:
            _embed_and_write(ws, embedder, pending, views, report)
            if progress:
                progress(report.embedded + report.failed, len(todo))
    report.seconds = time.perf_counter() - t0
    return report


def _embed_and_write(ws: Workspace, embedder, futures: list[Future], views: list[int], report: EmbedReport) -> None:
    rows, failed = map_batch(embedder, [f.result() for f in futures], views)
    write_batch(ws, embedder.name, embedder.version, rows, failed, report)


def map_batch(embedder, decoded: list[tuple[ImageRow, np.ndarray | None, str | None]], views: list[int]):
    """Mapper: decoded images -> ((image id, view, sha256, vec) rows, [(image, reason)] that failed to decode)."""
    failed = [(row, err) for row, _, err in decoded if err is not None]
    good = [(row, arr) for row, arr, err in decoded if err is None]
    if not good:
        return [], failed
    vecs = run_adaptive(embedder, np.concatenate([a for _, a in good])).reshape(len(good), len(views), -1)
    rows = [(r.id, v, r.sha256, vecs[i, j]) for i, (r, _) in enumerate(good) for j, v in enumerate(views)]
    return rows, failed


def write_batch(ws: Workspace, model: str, version: str, rows: list, failed: list[tuple[ImageRow, str]],
                report: EmbedReport) -> None:
    """Writer: one batch's failures and vectors go to the catalog (vectors in one transaction)."""
    for row, err in failed:
        ws.catalog.mark_image_error(row.id, err)
        report.failed += 1
        report.problems.append((f"{row.product_id}: {row.source}", err))
    if rows:
        ws.catalog.put_embeddings(model, version, rows)
        report.embedded += len({r[0] for r in rows})
