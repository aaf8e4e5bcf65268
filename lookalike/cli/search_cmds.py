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
    grid: Optional[Path] = typer.Option(None, help="Save a PNG grid of the query and its results"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Which products look like these photos?"""
    from .. import images
    from ..search import Searcher, parse_filters

    ws = open_ws(workspace)
    imgs = [images.load(p) for p in photos]
    searcher = Searcher(ws, model)
    hits = searcher.search_images(imgs, k, parse_filters(filter), combine=combine)
    if grid:
        from ..viz.results import save_search_grid

        save_search_grid(ws, imgs, hits, grid, title=f"search ({searcher.model})")
        console.print(f"grid saved to {grid}")
    if as_json:
        print_json({"model": searcher.model, "results": [h.to_dict() for h in hits]})
    else:
        print_hits(hits, f"products like {', '.join(p.name for p in photos)} ({searcher.model})")


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
