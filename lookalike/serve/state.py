"""The served Searchers: each new one is built off to the side and swapped in under a lock.

A request takes one Searcher reference and uses it to the end, so it never sees a half-built index.
Writes (add, delete, reindex) run one at a time under `write_lock`; reads never wait for them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import LookalikeError, NotFound, WorkspaceError
from ..search import Searcher
from ..workspace import Workspace
from .settings import Settings

log = logging.getLogger("lookalike.serve")


class ServeState:
    """One workspace served: its Searchers by model, the write lock, and the reindex status."""

    def __init__(self, ws: Workspace, settings: Settings):
        self.ws = ws
        self.settings = settings
        self.default_model = settings.model or ws.default_model
        self.write_lock = threading.Lock()
        self.generation = 0
        self.reindex: dict = {"state": "idle"}
        self._swap_lock = threading.Lock()
        self._searchers: dict[str, Searcher] = {}

    # -- reads ---------------------------------------------------------------
    def searcher(self, model: str | None = None) -> Searcher:
        """The current Searcher of a model (loaded on first use); raises NotFound when it has no index."""
        model = model or self.default_model
        with self._swap_lock:
            current = self._searchers.get(model)
        if current is not None:
            return current
        if model not in self.served_models():
            served = ", ".join(self.served_models()) or "none yet"
            raise NotFound(f"model {model!r} has no index in this workspace (indexed models: {served}). "
                           f"Build one with: lookalike index --model {model} -w {self.ws.root}")
        fresh = self._build(model)
        with self._swap_lock:
            return self._searchers.setdefault(model, fresh)

    def served_models(self) -> list[str]:
        """Models with a built index in the workspace."""
        names = []
        for manifest in sorted(self.ws.index_dir.glob("*.json")):
            try:
                names.append(json.loads(manifest.read_text())["model"])
            except (OSError, ValueError, KeyError):
                continue  # a manifest being replaced right now; the next call sees the new one
        return names

    def loaded(self) -> dict[str, Searcher]:
        """A snapshot of the Searchers loaded so far."""
        with self._swap_lock:
            return dict(self._searchers)

    # -- swapping ------------------------------------------------------------
    def _build(self, model: str) -> Searcher:
        """A complete Searcher, built without touching the one being served."""
        # export=False: a request never triggers a torch ONNX export (docs/serving.md: "The server never exports")
        # warm(): read what queries need now, so the first request after a swap is not slow and matches this index
        return Searcher(self.ws, model, export=False).warm()

    def _swap(self, model: str) -> None:
        fresh = self._build(model)
        with self._swap_lock:
            old = self._searchers.get(model)
            if old is not None:
                fresh.reuse_embedder(old)
            self._searchers[model] = fresh
            self.generation += 1

    def _drop(self, model: str) -> None:
        with self._swap_lock:
            self._searchers.pop(model, None)
            self.generation += 1

    # -- writes --------------------------------------------------------------
    @contextmanager
    def writing(self, what: str, timeout: float | None = None) -> Iterator[None]:
        """Hold the write lock, or refuse with 409 when another write keeps it too long."""
        wait = self.settings.request_timeout_s / 2 if timeout is None else timeout
        if not self.write_lock.acquire(timeout=wait):
            raise WorkspaceError(f"cannot {what}: another write or a reindex is running. "
                                 "Retry in a moment; GET /reindex shows its progress")
        try:
            yield
        finally:
            self.write_lock.release()

    def add_product(self, pid: str, metadata: dict, uploads: list[tuple[str, bytes]], urls: list[str]) -> dict:
        """Add or update a product, embed it and swap in indexes that hold it: searchable on return."""
        from ..ingest import add_product

        with self.writing(f"add product {pid!r}"):
            out = add_product(self.ws, pid, metadata, uploads, urls)
            out["indexed"] = self._refresh(force=False)
        return out

    def delete_product(self, pid: str) -> dict:
        """Delete a product and swap in indexes without it."""
        with self.writing(f"delete product {pid!r}"):
            self.ws.catalog.delete_product(pid)
            indexed = self._refresh(force=False)
        return {"deleted": pid, "indexed": indexed}

    def _refresh(self, force: bool) -> dict[str, int]:
        """Embed what is new for every served model, rebuild its index and swap it in; returns sizes."""
        from ..embed import VIEWS, embed_new
        from ..index.build import build_index, read_info

        sizes = {}
        for model in self.served_models() or [self.default_model]:
            info = read_info(self.ws.index_dir, model)
            augment = [VIEWS[v] for v in self._views(model) if v != 0]
            embed_new(self.ws, model, augment=augment, export=False)
            try:
                info, _ = build_index(self.ws.catalog, self.ws.index_dir, model,
                                      backend=info.backend if info else "faiss", force=force)
            except NotFound:  # the last embedded product is gone: nothing to serve for this model
                self._drop(model)
                sizes[model] = 0
                continue
            self._swap(model)
            sizes[model] = info.count
        return sizes

    def _views(self, model: str) -> list[int]:
        """The views (augmentations) the model's stored vectors use, so new products get the same."""
        rows = self.ws.catalog.conn().execute("SELECT DISTINCT view FROM embeddings WHERE model=?", (model,))
        return sorted(int(r[0]) for r in rows) or [0]

    # -- reindex -------------------------------------------------------------
    def start_reindex(self) -> dict:
        """Start a background reindex of every served model; searches keep using the old index until the swap."""
        if not self.write_lock.acquire(blocking=False):
            raise WorkspaceError("a reindex or another write is already running; follow it with GET /reindex")
        self.reindex = {"state": "running", "started_at": time.time(), "finished_at": None, "indexed": {}}
        threading.Thread(target=self._reindex, name="lookalike-reindex", daemon=True).start()
        return dict(self.reindex)

    def _reindex(self) -> None:
        status = dict(self.reindex)
        try:
            status["indexed"] = self._refresh(force=True)
            status["state"] = "done"
        except LookalikeError as e:
            status.update(state="error", error=e.message)
        except Exception as e:  # a background thread must record, not lose, what went wrong
            log.error("reindex failed:\n%s", traceback.format_exc())
            status.update(state="error", error=f"{type(e).__name__}: {e}")
        finally:
            status["finished_at"] = time.time()
            self.reindex = status
            self.write_lock.release()

    def wait_reindex(self, timeout: float = 60.0) -> dict:
        """Block until no reindex runs (for tests and scripts)."""
        deadline = time.monotonic() + timeout
        while self.reindex.get("state") == "running" and time.monotonic() < deadline:
            time.sleep(0.02)
        return dict(self.reindex)
