"""The `center` cropper: a fixed centred crop, for catalogs whose shoppers frame the product in the middle."""

from __future__ import annotations

from ..errors import BadInput
from .registry import Cropper, Region


class CenterCropper(Cropper):
    """The centred box of `scale` times the photo's width and height (one region, whatever n is); costs nothing."""

    name = "center"

    def __init__(self, scale: float = 0.6):
        try:
            value = float(scale)
        except (TypeError, ValueError):
            value = -1.0
        if not 0.05 <= value <= 1.0:
            raise BadInput(f"center crop scale must be a number between 0.05 and 1, got {scale!r}: e.g. center:0.6")
        self.scale = value

    def _propose(self, img, n: int, searcher, filters) -> list[Region]:
        w, h = img.size
        cw, ch = w * self.scale, h * self.scale
        return [Region(((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2), 1.0)]
