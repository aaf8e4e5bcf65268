"""Query commands: search, similar, export."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from .catalog_cmds import WorkspaceOpt, open_ws
from .progress import console, print_hits, print_json, progress_bar


@app.command()
def search(
    photos: list[Path] = typer.Argument(..., help="One or more query photos (combined into one query)"),
    workspace: Optional[Path] = WorkspaceOpt,
    k: int = typer.Option(10, "-k", help="How many products"),
    model: Optional[str] = typer.Option(None, "--model", "-m"),
    filter: Optional[list[str]] = typer.Option(None, "--filter", "-f", help="key=value (repeat; a,b means either)"),
    combine: str = typer.Option("mean", help="How several photos combine: mean (of vectors) or max (of scores)"),
    crop: str = typer.Option("none", help="Where the product is: auto, none, center, saliency, multiscale, "
                             "multiscale:top1|margin|fuse, onnx-detector:PATH.onnx, or a box x0,y0,x1,y1 "
                             "in pixels (see docs/cropping.md)"),
    regions: int = typer.Option(1, help="Shop the look: results for up to N distinct regions of the photo"),
    grid: Optional[Path] = typer.Option(None, help="Save a PNG grid of the query (with its box) and its results"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Which products look like these photos?"""
    from .. import images
    from ..errors import BadInput
    from ..search import Searcher, parse_filters

    ws = open_ws(workspace)
    imgs = [images.load(p) for p in photos]
    searcher = Searcher(ws, model)
    filters = parse_filters(filter)
    found = None  # the regions, when the photo was cropped
    if crop == "none" and regions == 1:
        hits = searcher.search_images(imgs, k, filters, combine=combine)
    elif len(imgs) > 1:
        raise BadInput("--crop and --regions work on one photo at a time; give a single photo")
    else:
        from ..crop import search_with_crop

        found = search_with_crop(searcher, imgs[0], k, filters, crop=crop, regions=regions)
        hits = found[0]["results"]
    if grid:
        _save_grid(ws, imgs, found, hits, grid, f"search ({searcher.model}, crop {crop})")
        console.print(f"grid saved to {grid}")
    if as_json:
        from ..crop import regions_to_dict

        full = [{"box": (0, 0, imgs[0].width, imgs[0].height), "score": 1.0, "results": hits}]
        regs = regions_to_dict(found or (full if len(imgs) == 1 else []))
        results = regs[0]["results"] if found else [h.to_dict() for h in hits]
        print_json({"model": searcher.model, "crop": crop, "results": results, "regions": regs})
    elif found:
        for i, r in enumerate(found, 1):
            box = ",".join(map(str, r["box"]))
            print_hits(r["results"], f"region {i} of {len(found)}: box {box} ({searcher.model})")
    else:
        print_hits(hits, f"products like {', '.join(p.name for p in photos)} ({searcher.model})")


def _save_grid(ws, imgs, found, hits, out: Path, title: str) -> None:
    """One row per region: the query with its box drawn, then that region's results."""
    from ..viz.grid import Tile, draw_rows
    from ..viz.results import hit_tiles, save_search_grid

    if not found:
        save_search_grid(ws, imgs, hits, out, title=title)
        return
    q = imgs[0]
    rows = [[Tile(q, f"region {i}" if len(found) > 1 else "query", ",".join(map(str, r["box"])), box=r["box"]),
             *hit_tiles(ws, r["results"])] for i, r in enumerate(found, 1)]
    draw_rows(rows, out, header=title)


@app.command()
def similar(
    product_id: str = typer.Argument(..., help="A product id of the catalog"),
    workspace: Optional[Path] = WorkspaceOpt,
    k: int = typer.Option(10, "-k"),
    model: Optional[str] = typer.Option(None, "--model", "-m"),
    filter: Optional[list[str]] = typer.Option(None, "--filter", "-f"),
    grid: Optional[Path] = typer.Option(None, help="Save a PNG grid of the product and its neighbours"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Which products are similar to this one (itself excluded)?"""
    from ..search import Searcher, parse_filters

    ws = open_ws(workspace)
    searcher = Searcher(ws, model)
    hits = searcher.similar(product_id, k, parse_filters(filter))
    if grid:
        from ..viz.results import hit_image, save_search_grid

        first = ws.catalog.product(product_id)["image_ids"][:1]
        save_search_grid(ws, [hit_image(ws, i) for i in first], hits, grid, title=f"similar to {product_id}")
        console.print(f"grid saved to {grid}")
    if as_json:
        print_json({"model": searcher.model, "product_id": product_id, "results": [h.to_dict() for h in hits]})
    else:
        print_hits(hits, f"similar to {product_id} ({searcher.model})")


@app.command()
def export(
    path: Path = typer.Argument(..., help="Output file: .csv, .json, .jsonl or .parquet"),
    workspace: Optional[Path] = WorkspaceOpt,
    k: int = typer.Option(20, "-k"),
    model: Optional[str] = typer.Option(None, "--model", "-m"),
    filter: Optional[list[str]] = typer.Option(None, "--filter", "-f", help="Only recommend products matching these"),
    format: Optional[str] = typer.Option(None, help="csv, json, jsonl or parquet [from the suffix]"),
) -> None:
    """Precompute the similar-products table for every product."""
    from ..export import similar_table, write_table
    from ..search import Searcher, parse_filters

    ws = open_ws(workspace)
    searcher = Searcher(ws, model)
    with progress_bar("similar table", unit="products") as update:
        rows = similar_table(searcher, k, parse_filters(filter), progress=update)
    write_table(rows, path, format)
    console.print(f"wrote {len(rows)} rows ({len({r['product_id'] for r in rows})} products x up to {k}) to {path}")
