"""VectorIndex: the one interface every vector backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from ..errors import BadInput


class VectorIndex(ABC):
    """Inner-product search over L2-normalised float32 vectors keyed by int64 ids."""

    #: pip names this backend needs beyond lookalike's own dependencies
    requirements: list[str] = []

    def __init__(self, dim: int):
        self.dim = int(dim)

    @classmethod
    def ensure_requirements(cls) -> None:
        """Raise a clear error when the backend's packages are missing."""

    def add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        """Add vectors under the given ids (ids must be new)."""
        ids, vecs = self._check(ids, vecs)
        if len(ids):
            self._add(ids, vecs)

    def remove(self, ids: np.ndarray) -> int:
        """Remove vectors by id; returns how many were removed."""
        return self._remove(np.asarray(ids, dtype=np.int64))

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query; `allowed` restricts results to those ids. Missing slots get id -1."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if queries.shape[1] != self.dim:
            raise BadInput(f"query vectors have dimension {queries.shape[1]}, the index has {self.dim}")
        if k < 1:
            raise BadInput(f"k must be at least 1, got {k}")
        return self._search(queries, int(k), allowed)

    def _check(self, ids: np.ndarray, vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, dtype=np.int64)
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if vecs.ndim != 2 or (len(vecs) and vecs.shape[1] != self.dim):
            raise BadInput(f"vectors must be n x {self.dim}, got {vecs.shape}")
        if len(ids) != len(vecs):
            raise BadInput(f"{len(ids)} ids for {len(vecs)} vectors")
        return ids, vecs

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def _add(self, ids: np.ndarray, vecs: np.ndarray) -> None: ...

    @abstractmethod
    def _remove(self, ids: np.ndarray) -> int: ...

    @abstractmethod
    def _search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]: ...

    @abstractmethod
    def save(self, path: Path) -> None:
        """Write the index to a file, atomically."""

    @classmethod
    @abstractmethod
    def load(cls, path: Path) -> "VectorIndex":
        """Read an index written by save."""
