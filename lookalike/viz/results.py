"""Turn search hits into grid tiles by loading each hit's catalog image."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from .. import images
from ..errors import LookalikeError
from ..search import Hit
from ..workspace import Workspace
from .grid import Tile, draw_rows


def hit_image(ws: Workspace, image_id: int) -> Image.Image:
    """The catalog image of a hit, or a grey placeholder when it can no longer be read."""
    row = ws.catalog.image(image_id)
    try:
        return images.load(row.local_path or row.source)
    except LookalikeError:
        return Image.new("RGB", (64, 64), (200, 200, 200))


def hit_tiles(ws: Workspace, hits: list[Hit], relevant: set[str] | None = None) -> list[Tile]:
    """Tiles for hits, marked green/red when the relevant ids are known."""
    return [
        Tile(hit_image(ws, h.image_id), h.product_id, f"#{h.rank}  {h.score:.3f}",
             None if relevant is None else h.product_id in relevant)
        for h in hits
    ]


def save_search_grid(ws: Workspace, queries: list[Image.Image], hits: list[Hit], out: str | Path,
                     boxes: list | None = None, title: str | None = None) -> Path:
    """One row: the query photo(s), then the results."""
    boxes = boxes or [None] * len(queries)
    row = [Tile(q, "query", f"{q.width}x{q.height}", box=b) for q, b in zip(queries, boxes)]
    draw_rows([row + hit_tiles(ws, hits)], out, header=title)
    return Path(out)

