"""Build or refresh a workspace's index for one model, and swap it in atomically."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import NotFound
from . import backend_class
from .base import VectorIndex

DEFAULT_BACKEND = "faiss"


@dataclass
class IndexInfo:
    """What an index file holds."""

    model: str
    backend: str
    count: int
    dim: int
    fingerprint: str
    built_at: float


def _safe(name: str) -> str:
    return name.replace(":", "_").replace("/", "_")


def index_paths(index_dir: Path, model: str) -> tuple[Path, Path]:
    """(index file, manifest file) of a model's index."""
    return index_dir / f"{_safe(model)}.index", index_dir / f"{_safe(model)}.json"


def fingerprint(ids: np.ndarray, vecs: np.ndarray) -> str:
    """Changes whenever the set of vectors changes."""
    h = hashlib.sha256(np.ascontiguousarray(ids).tobytes())
    h.update(np.ascontiguousarray(vecs[:, :8] if len(vecs) else vecs).tobytes())
    return h.hexdigest()[:16]


def read_info(index_dir: Path, model: str) -> IndexInfo | None:
    """The manifest of a model's index, if one was built."""
    _, manifest = index_paths(index_dir, model)
    if not manifest.exists():
        return None
    return IndexInfo(**json.loads(manifest.read_text()))


def build_index(catalog, index_dir: Path, model: str, backend: str = DEFAULT_BACKEND, force: bool = False) -> tuple[IndexInfo, bool]:
    """(info, rebuilt): rebuild when the stored vectors differ from what the index holds."""
    ids, vecs = catalog.embeddings(model)
    if len(ids) == 0:
        raise NotFound(f"no embeddings for model {model!r} yet. Run: lookalike index --model {model}")
    fp = fingerprint(ids, vecs)
    info = read_info(index_dir, model)
    path, manifest = index_paths(index_dir, model)
    if not force and info and info.fingerprint == fp and info.backend == backend and path.exists():
        return info, False
    index = backend_class(backend)(vecs.shape[1])
    index.add(ids, vecs)
    index.save(path)  # atomic rename; readers keep the old file open until they reload
    info = IndexInfo(model, backend, len(ids), int(vecs.shape[1]), fp, time.time())
    tmp = manifest.with_suffix(".tmp")
    tmp.write_text(json.dumps(info.__dict__))
    os.replace(tmp, manifest)
    return info, True


def load_index(index_dir: Path, model: str) -> tuple[VectorIndex, IndexInfo]:
    """Open a built index."""
    info = read_info(index_dir, model)
    path, _ = index_paths(index_dir, model)
    if info is None or not path.exists():
        raise NotFound(f"no index for model {model!r}. Run: lookalike index --model {model}")
    return backend_class(info.backend).load(path), info
