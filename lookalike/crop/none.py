"""The `none` cropper: the whole photo is the query."""

from __future__ import annotations

from .registry import Cropper, Region


class NoCropper(Cropper):
    """Returns the full image box (one region, whatever n is)."""

    name = "none"

    def _propose(self, img, n: int, searcher, filters) -> list[Region]:
        return [Region((0, 0, img.width, img.height), 1.0)]
