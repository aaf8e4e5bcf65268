"""Vector index backends, declared by name as 'module:Class' and imported lazily."""

from __future__ import annotations

import importlib

from ..errors import BadInput
from .base import VectorIndex

BACKENDS: dict[str, str] = {
    "faiss": "lookalike.index.faiss_index:FaissIndex",
    "faiss-hnsw": "lookalike.index.faiss_index:FaissHNSWIndex",
    "pgvector": "lookalike.index.pgvector_index:PgVectorIndex",
    "pgvector-hnsw": "lookalike.index.pgvector_index:PgVectorHNSWIndex",
}


def backend_class(name: str) -> type[VectorIndex]:
    """The class of a backend by name, with its requirements checked."""
    if name not in BACKENDS:
        raise BadInput(f"unknown index backend {name!r}; valid backends: {', '.join(sorted(BACKENDS))}")
    module, _, cls_name = BACKENDS[name].partition(":")
    cls = getattr(importlib.import_module(module), cls_name)
    cls.ensure_requirements()
    return cls


def list_backends() -> list[str]:
    """Names of the known backends."""
    return sorted(BACKENDS)


__all__ = ["VectorIndex", "backend_class", "list_backends", "BACKENDS"]
