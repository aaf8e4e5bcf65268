"""FAISS backends: exact inner product (the default and the oracle) and HNSW for large catalogs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ModelUnavailable
from .base import VectorIndex


def _faiss():
    try:
        import faiss
    except ImportError:
        raise ModelUnavailable("the FAISS backends need faiss-cpu. Run: pip install faiss-cpu") from None
    return faiss


def numpy_method(index, name: str):
    """The NumPy version of a faiss method.

    faiss.contrib.torch_utils (imported by pytorch-metric-learning) swaps methods for torch-aware wrappers that
    drop `params` and return tensors; the originals stay reachable as NAME_numpy.
    """
    return getattr(index, f"{name}_numpy", None) or getattr(index, name)


class FaissIndex(VectorIndex):
    """Exact inner-product search with faiss.IndexFlatIP behind an id map."""

    requirements = ["faiss-cpu"]

    def __init__(self, dim: int, index=None):
        super().__init__(dim)
        self._index = index if index is not None else self._make(dim)

    @classmethod
    def ensure_requirements(cls) -> None:
        """Fail early when faiss is missing."""
        _faiss()

    def _make(self, dim: int):
        faiss = _faiss()
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def _add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        numpy_method(self._index, "add_with_ids")(vecs, ids)

    def _remove(self, ids: np.ndarray) -> int:
        faiss = _faiss()
        return int(numpy_method(self._index, "remove_ids")(faiss.IDSelectorBatch(ids)))

    def _params(self, selector):
        return _faiss().SearchParameters(sel=selector)

    def _search(self, queries, k, allowed):
        faiss = _faiss()
        params = None
        if allowed is not None:
            allowed = np.asarray(allowed, dtype=np.int64)
            if len(allowed) == 0:
                n = len(queries)
                return np.full((n, k), -np.inf, dtype=np.float32), np.full((n, k), -1, dtype=np.int64)
            params = self._params(faiss.IDSelectorBatch(allowed))
        k_eff = min(k, max(len(self), 1))
        scores, ids = numpy_method(self._index, "search")(queries, k_eff, params=params)
        if k_eff < k:
            pad = k - k_eff
            scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
            ids = np.pad(ids, ((0, 0), (0, pad)), constant_values=-1)
        scores = np.where(ids < 0, -np.inf, scores).astype(np.float32)
        return scores, ids

    def save(self, path: Path) -> None:
        faiss = _faiss()
        tmp = Path(str(path) + ".tmp")
        faiss.write_index(self._index, str(tmp))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> "FaissIndex":
        faiss = _faiss()
        index = faiss.read_index(str(path))
        return cls(index.d, index)


class FaissHNSWIndex(FaissIndex):
    """Approximate search with HNSW, for catalogs past a few hundred thousand images."""

    M = 32
    EF_SEARCH = 128

    def _make(self, dim: int):
        faiss = _faiss()
        hnsw = faiss.IndexHNSWFlat(dim, self.M, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efSearch = self.EF_SEARCH
        return faiss.IndexIDMap2(hnsw)

    def _params(self, selector):
        faiss = _faiss()
        return faiss.SearchParametersHNSW(sel=selector, efSearch=self.EF_SEARCH)

    def _remove(self, ids: np.ndarray) -> int:
        # HNSW graphs cannot drop nodes: rebuild from the remaining vectors
        faiss = _faiss()
        keep_ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        mask = ~np.isin(keep_ids, ids)
        removed = int((~mask).sum())
        if removed:
            vecs = numpy_method(self._index.index, "reconstruct_n")(0, len(keep_ids))
            self._index = self._make(self.dim)
            if mask.any():
                numpy_method(self._index, "add_with_ids")(vecs[mask], keep_ids[mask])
        return removed
