"""Embedder registry: register_embedder, create_embedder, list_embedders, is_embedder."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import BadInput, ModelUnavailable
from .preprocess import Preprocess

if TYPE_CHECKING:
    from .onnx_runtime import OnnxEmbedder


@dataclass
class ModelSpec:
    """What a registered embedder is and how to build it."""

    name: str
    description: str
    preprocess: Preprocess
    dim: int
    #: returns a torch module mapping NCHW float tensors to N x dim features
    build: Callable[[], object]
    #: returns the path of the weights file, to key the ONNX cache by content
    weights: Callable[[], str]
    requirements: list[str] = field(default_factory=list)
    licence: str = ""


_REGISTRY: dict[str, ModelSpec] = {}
HUB_PREFIXES = ("timm:", "open_clip:")


def register_embedder(spec: ModelSpec) -> ModelSpec:
    """Add a model to the registry (warns when it replaces one)."""
    if spec.name in _REGISTRY:
        warnings.warn(f"embedder {spec.name!r} was already registered and is replaced", stacklevel=2)
    _REGISTRY[spec.name] = spec
    return spec


def list_embedders() -> list[str]:
    """Names of the registered (built-in) embedders."""
    _ensure_builtins()
    return sorted(_REGISTRY)


def is_embedder(name: str) -> bool:
    """True for a registered name or a hub name such as 'timm:resnet50'."""
    _ensure_builtins()
    return name in _REGISTRY or name.startswith(HUB_PREFIXES)


def get_spec(name: str) -> ModelSpec:
    """The spec of a registered model, or an error listing the valid names."""
    _ensure_builtins()
    if name not in _REGISTRY:
        raise BadInput(
            f"unknown model {name!r}. Built-in models: {', '.join(sorted(_REGISTRY))}; "
            "hub models: timm:NAME or open_clip:ARCH/PRETRAINED; see: lookalike models"
        )
    return _REGISTRY[name]


def availability(name: str) -> tuple[bool, str]:
    """(available here, reason) for a registered model."""
    spec = get_spec(name)
    try:
        path = spec.weights()
    except ModelUnavailable as e:
        return False, e.message
    return True, path


def create_embedder(name: str, cache_dir: str | None = None, export: bool = True) -> "OnnxEmbedder":
    """An ONNX Runtime embedder for a registered or hub model, exporting it on first use unless export=False."""
    from .onnx_runtime import embedder_for_spec
    from .hub import hub_spec

    spec = hub_spec(name) if name.startswith(HUB_PREFIXES) else get_spec(name)
    return embedder_for_spec(spec, cache_dir, export=export)


def _ensure_builtins() -> None:
    if not _REGISTRY:
        from . import builtin  # noqa: F401  (registers on import)
