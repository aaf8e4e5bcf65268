"""The `multiscale` cropper: embed candidate crops in one batch, then fuse them or keep the best-matching one.

Candidates are the full photo, centre crops at a few scales and, optionally, a coarse sliding window.
`select="fuse"` (the default: it measured best on grocery_store, docs/cropping.md) averages the candidates' vectors
into one query, whose box is the whole photo. `top1` and `margin` search every candidate against the catalog index
(with the query's filters) and keep the most confident one: by its top-1 score, or its top-1 minus top-2 margin.
Several regions (n > 1) are always chosen by confidence.
"""

from __future__ import annotations

import numpy as np

from ..errors import BadInput
from .regions import distinct_regions
from .registry import Cropper, Region

SELECT = ("top1", "margin", "fuse")


def candidate_boxes(w: int, h: int, scales=(0.7,), grid: int = 0, window: float = 0.6) -> list[tuple]:
    """The full image, centred crops at each scale, then a grid x grid sliding window of the given size."""
    boxes = [(0, 0, w, h)]
    for s in scales:
        cw, ch = w * s, h * s
        boxes.append(((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2))
    if grid > 0:
        cw, ch = w * window, h * window
        steps = np.linspace(0.0, 1.0, grid) if grid > 1 else np.array([0.5])
        boxes += [(fx * (w - cw), fy * (h - ch), fx * (w - cw) + cw, fy * (h - ch) + ch)
                  for fy in steps for fx in steps]
    return [tuple(int(round(v)) for v in b) for b in boxes]


class MultiscaleCropper(Cropper):
    """Fuses the candidate crops into one query, or keeps the one whose catalog match is most confident."""

    name = "multiscale"
    needs_searcher = True

    def __init__(self, scales=(0.7, 0.5), grid: int = 0, window: float = 0.6, select: str = "fuse",
                 region_grid: int = 3):
        if select not in SELECT:
            raise BadInput(f"unknown multiscale select {select!r}; use one of {', '.join(SELECT)}")
        self.scales, self.grid, self.window, self.select = tuple(scales), int(grid), float(window), select
        #: the sliding window used when several regions are asked for and grid is 0
        self.region_grid = int(region_grid)

    def boxes(self, w: int, h: int, n: int = 1) -> list[tuple]:
        """The candidate boxes for an image of this size."""
        grid = self.grid if n == 1 or self.grid else self.region_grid
        return candidate_boxes(w, h, self.scales, grid, self.window)

    def _propose(self, img, n: int, searcher, filters) -> list[Region]:
        boxes = self.boxes(img.width, img.height, n)
        vecs = searcher.embedder.embed([img.crop(b) for b in boxes], batch_size=max(32, len(boxes)))
        if self.select == "fuse" and n == 1:
            mean = vecs.mean(axis=0)
            return [Region(boxes[0], 1.0, mean / max(float(np.linalg.norm(mean)), 1e-12))]
        # top1 / margin, and every multi-region search: each candidate's own catalog match decides
        conf = [self.confidence(searcher.search_vectors(v[None], 2, filters)) for v in vecs]
        regions = [Region(b, c, v) for b, c, v in zip(boxes, conf, vecs)]
        return distinct_regions(regions, n, 0.3)

    def confidence(self, hits) -> float:
        """How sure the catalog is about a crop: its margin over the runner-up (select=margin), else its top-1."""
        if not hits:
            return float("-inf")
        if self.select == "margin":
            return hits[0].score - (hits[1].score if len(hits) > 1 else 0.0)
        return hits[0].score
