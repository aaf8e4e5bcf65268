"""Result grids: the query (with its box), then the top-k with ids, scores and relevance marks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

TILE = 160
LABEL_H = 34
PAD = 6
GREEN, RED, GREY = (34, 160, 60), (210, 40, 40), (120, 120, 120)


@dataclass
class Tile:
    """One picture in a grid row."""

    image: Image.Image
    title: str
    subtitle: str = ""
    relevant: bool | None = None
    box: tuple[int, int, int, int] | None = None


def _font(size: int = 12):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # older Pillow
        return ImageFont.load_default()


def _fit(img: Image.Image, box: tuple[int, int, int, int] | None) -> Image.Image:
    img = img.convert("RGB")
    scale = TILE / max(img.size)
    small = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))))
    canvas = Image.new("RGB", (TILE, TILE), (255, 255, 255))
    ox, oy = (TILE - small.width) // 2, (TILE - small.height) // 2
    canvas.paste(small, (ox, oy))
    if box is not None:
        d = ImageDraw.Draw(canvas)
        x0, y0, x1, y1 = (v * scale for v in box)
        d.rectangle((ox + x0, oy + y0, ox + x1, oy + y1), outline=(255, 200, 0), width=3)
    return canvas


def _draw_tile(sheet: Image.Image, tile: Tile, x: int, y: int, font) -> None:
    sheet.paste(_fit(tile.image, tile.box), (x, y))
    d = ImageDraw.Draw(sheet)
    if tile.relevant is not None:
        colour = GREEN if tile.relevant else RED
        d.rectangle((x - 3, y - 3, x + TILE + 2, y + TILE + 2), outline=colour, width=4)
    d.text((x, y + TILE + 3), tile.title[:24], fill=(20, 20, 20), font=font)
    d.text((x, y + TILE + 17), tile.subtitle[:26], fill=GREY, font=font)


def draw_rows(rows: list[list[Tile]], out: str | Path | None = None, header: str | None = None) -> Image.Image:
    """Lay out rows of tiles (first tile of each row is the query) and save to `out` if given."""
    font = _font()
    cols = max((len(r) for r in rows), default=1)
    head_h = 24 if header else 0
    w = PAD + cols * (TILE + PAD) + PAD
    h = head_h + PAD + len(rows) * (TILE + LABEL_H + PAD)
    sheet = Image.new("RGB", (w, h), (245, 245, 245))
    if header:
        ImageDraw.Draw(sheet).text((PAD, 5), header, fill=(0, 0, 0), font=_font(14))
    for r, row in enumerate(rows):
        y = head_h + PAD + r * (TILE + LABEL_H + PAD)
        for c, tile in enumerate(row):
            x = PAD + c * (TILE + PAD) + (PAD if c > 0 else 0)
            _draw_tile(sheet, tile, x, y, font)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        sheet.save(out)
    return sheet
