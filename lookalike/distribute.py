"""Embedding strategies behind one interface: 'sequential' (one process) and 'ray' (shards over Ray actors).

Either way the driver process is the single SQLite writer and commits per batch, so a crash loses at most the
batches still in flight; the next run embeds only what is missing.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable

from .embed import EmbedReport, embed_new, map_batch, read_image, view_ids, write_batch
from .errors import BadInput, ModelUnavailable
from .workspace import Workspace

Progress = Callable[[int, int], None]


class EmbedStrategy(ABC):
    """Embeds a workspace's stale images for one model; `workers` means what the strategy says it means."""

    name: str = ""

    @abstractmethod
    def run(self, ws: Workspace, model: str | None, augment: list[str] | None, batch_size: int, workers: int,
            progress: Progress | None) -> EmbedReport:
        """Embed every stale image and return the report."""


class SequentialStrategy(EmbedStrategy):
    """One process: decode threads feed one ONNX Runtime session (workers = decode threads)."""

    name = "sequential"

    def run(self, ws, model, augment, batch_size, workers, progress):
        return embed_new(ws, model, augment=augment, batch_size=batch_size, workers=workers, progress=progress)


class RayStrategy(EmbedStrategy):
    """Shards batches over `workers` Ray actors, each with its own ONNX session; the driver writes the results.

    Actors read images by path, so on a multi-machine cluster the workspace (its blobs/ folder) must be on a shared
    filesystem. Set RAY_ADDRESS to join a running cluster; otherwise a local Ray starts with `workers` CPUs.
    """

    name = "ray"
    in_flight_per_worker = 2

    def run(self, ws, model, augment, batch_size, workers, progress):
        ray = _ray()
        if workers < 1:
            raise BadInput(f"--workers must be at least 1, got {workers}")
        embedder = ws.embedder(model)  # exports the model once, here, before actors open the file
        views = view_ids(augment)
        todo = ws.catalog.stale_images(embedder.name, embedder.version, views)
        report = EmbedReport(embedder.name)
        t0 = time.perf_counter()
        started = _init_ray(ray, workers)
        try:
            if todo:
                actors = _start_actors(ray, embedder, views, workers)
                size = max(1, batch_size // len(views))
                chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
                _drive(ray, ws, embedder, actors, chunks, report, len(todo), progress, self.in_flight_per_worker)
        finally:
            if started:
                ray.shutdown()
        report.seconds = time.perf_counter() - t0
        return report


def _ray():
    try:
        import ray
    except ImportError:
        raise ModelUnavailable("the ray strategy needs Ray. Run: pip install 'lookalike[ray]'") from None
    return ray


def _init_ray(ray, workers: int) -> bool:
    """Start Ray unless the caller already did; True when we started it (and so must shut it down)."""
    if ray.is_initialized():
        return False
    if os.environ.get("RAY_ADDRESS"):
        ray.init(log_to_driver=False)
    else:
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    return True


class _EmbedWorker:
    """A Ray actor: opens the ONNX model once, then turns batches of image rows into vector rows."""

    def __init__(self, name: str, onnx_path: str, preprocess: dict, version: str, views: list[int], threads: int):
        from .embedders.onnx_runtime import OnnxEmbedder
        from .embedders.preprocess import Preprocess

        # one session thread per actor CPU: actors share the machine's cores instead of fighting over them
        self.embedder = OnnxEmbedder(name, onnx_path, Preprocess.from_dict(preprocess), version, threads=threads)
        self.views = views

    def embed(self, rows: list) -> tuple[list, list]:
        """(image id, view, sha256, vec) rows and (image row, reason) failures for one batch."""
        decoded = [read_image(r, self.embedder.preprocess, self.views) for r in rows]
        return map_batch(self.embedder, decoded, self.views)


def _start_actors(ray, embedder, views: list[int], workers: int) -> list:
    """`workers` actors of one CPU each, opening the same model file the driver resolved."""
    remote = ray.remote(num_cpus=1)(_EmbedWorker)
    args = (embedder.name, str(embedder.path), embedder.preprocess.to_dict(), embedder.version, views, 1)
    return [remote.remote(*args) for _ in range(workers)]


def _drive(ray, ws, embedder, actors, chunks, report, total, progress, per_worker) -> None:
    """Keep every actor busy; write each finished batch as it arrives (one transaction per batch)."""
    pending: dict = {}  # object ref -> actor
    queue = list(reversed(chunks))
    free = [a for a in actors for _ in range(per_worker)]
    while queue or pending:
        while queue and free:
            actor = free.pop()
            pending[actor.embed.remote(queue.pop())] = actor
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            free.append(pending.pop(ref))
            rows, failed = ray.get(ref)
            write_batch(ws, embedder.name, embedder.version, rows, failed, report)
            if progress:
                progress(report.embedded + report.failed, total)


STRATEGIES: dict[str, type[EmbedStrategy]] = {"sequential": SequentialStrategy, "ray": RayStrategy}


def list_strategies() -> list[str]:
    """Names of the embedding strategies."""
    return sorted(STRATEGIES)


def get_strategy(name: str) -> EmbedStrategy:
    """A strategy by name; an unknown name lists the valid ones."""
    if name not in STRATEGIES:
        raise BadInput(f"unknown embedding strategy {name!r}; valid strategies: {', '.join(list_strategies())}")
    return STRATEGIES[name]()


def embed(ws: Workspace, model: str | None = None, augment: list[str] | None = None, batch_size: int = 32,
          strategy: str = "sequential", workers: int = 2, progress: Progress | None = None) -> EmbedReport:
    """Embed what is new in the workspace with the named strategy."""
    return get_strategy(strategy).run(ws, model, augment, batch_size, workers, progress)
