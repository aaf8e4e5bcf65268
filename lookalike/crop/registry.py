"""Cropper registry: register_cropper, create_cropper, list_croppers, is_cropper; and the Cropper base."""

from __future__ import annotations

import importlib
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ..errors import BadInput

Box = tuple[int, int, int, int]


@dataclass
class Region:
    """A box in query-image pixels (x0, y0, x1, y1), how confident the cropper is, and its vector if computed."""

    box: Box
    score: float = 0.0
    vec: np.ndarray | None = None


class Cropper(ABC):
    """Finds where the product is in a shopper's photo: up to n distinct regions, best first."""

    name = ""
    #: True when propose() needs a Searcher (it scores crops against the catalog)
    needs_searcher = False

    def propose(self, img, n: int = 1, searcher=None, filters: dict | None = None) -> list[Region]:
        """Up to n regions, best first, every box clipped to the image and non-empty."""
        if n < 1:
            raise BadInput(f"regions must be at least 1, got {n}")
        if self.needs_searcher and searcher is None:
            raise BadInput(f"cropper {self.name!r} scores crops against a catalog: pass a Searcher")
        regions = self._propose(img, n, searcher, filters)
        w, h = img.size
        return [Region(clip_box(r.box, w, h), r.score, r.vec) for r in regions[:n]] or [Region((0, 0, w, h))]

    @abstractmethod
    def _propose(self, img, n: int, searcher, filters: dict | None) -> list[Region]:
        """The cropper's own proposals (the public method validates around it)."""


def clip_box(box, w: int, h: int) -> Box:
    """Round a box to whole pixels inside a w x h image, at least 1 pixel wide and high."""
    x0, y0, x1, y1 = (float(v) for v in box)
    x0, y0 = min(max(int(round(x0)), 0), w - 1), min(max(int(round(y0)), 0), h - 1)
    x1, y1 = min(max(int(round(x1)), x0 + 1), w), min(max(int(round(y1)), y0 + 1), h)
    return (x0, y0, x1, y1)


#: built-in croppers as 'module:Class', imported on first use
_BUILTINS: dict[str, str] = {
    "none": "lookalike.crop.none:NoCropper",
    "center": "lookalike.crop.center:CenterCropper",
    "saliency": "lookalike.crop.saliency:SaliencyCropper",
    "multiscale": "lookalike.crop.multiscale:MultiscaleCropper",
    "onnx-detector": "lookalike.crop.onnx_detector:OnnxDetectorCropper",
}
_REGISTRY: dict[str, object] = dict(_BUILTINS)


def register_cropper(name: str, factory) -> None:
    """Add a cropper class (or factory, or 'module:Class' path) under a name; warns when it replaces one."""
    if name in _REGISTRY:
        warnings.warn(f"cropper {name!r} was already registered and is replaced", stacklevel=2)
    _REGISTRY[name] = factory


def list_croppers() -> list[str]:
    """Names of the registered croppers."""
    return sorted(_REGISTRY)


def is_cropper(name: str) -> bool:
    """True for a registered cropper name."""
    return name in _REGISTRY


def create_cropper(name: str, **options) -> Cropper:
    """A cropper by name, with its options (for example path= for onnx-detector)."""
    if name not in _REGISTRY:
        raise BadInput(f"unknown cropper {name!r}; valid croppers: {', '.join(list_croppers())}, "
                       "or auto, or a box x0,y0,x1,y1")
    factory = _REGISTRY[name]
    if isinstance(factory, str):
        module, _, cls_name = factory.partition(":")
        factory = getattr(importlib.import_module(module), cls_name)
    try:
        return factory(**options)
    except TypeError as e:
        raise BadInput(f"cropper {name!r} does not take these options {sorted(options)}: {e}") from None
