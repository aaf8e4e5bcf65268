"""Embedders: a registry of models that turn images into L2-normalised vectors."""

from .registry import ModelSpec, create_embedder, is_embedder, list_embedders, register_embedder

__all__ = ["ModelSpec", "create_embedder", "is_embedder", "list_embedders", "register_embedder"]
