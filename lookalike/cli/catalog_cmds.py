"""Catalog commands: ingest, index, models, products, problems, info."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from . import app
from .progress import console, out, print_json, progress_bar

WorkspaceOpt = typer.Option(None, "--workspace", "-w", help="Workspace directory [env LOOKALIKE_WORKSPACE, default ./lookalike-ws]")


def open_ws(path: Optional[Path], create: bool = False):
    """Open the workspace named by --workspace or the environment."""
    from ..workspace import Workspace, default_path

    return Workspace(path or default_path(), create=create)


def _print_problems(problems: list[tuple[str, str]], limit: int = 20) -> None:
    if not problems:
        return
    table = Table(title=f"{len(problems)} item(s) skipped (everything else was kept)", title_style="yellow")
    table.add_column("item", overflow="fold")
    table.add_column("reason / fix", overflow="fold")
    for item, reason in problems[:limit]:
        table.add_row(item, reason)
    console.print(table)
    if len(problems) > limit:
        console.print(f"... and {len(problems) - limit} more: lookalike problems")


@app.command()
def ingest(
    catalog: Path = typer.Argument(..., help="A folder of images, a .csv or a .jsonl catalog"),
    workspace: Optional[Path] = WorkspaceOpt,
    images_root: Optional[Path] = typer.Option(None, help="Folder that relative image paths start from"),
    id_column: Optional[str] = typer.Option(None, help="Column with the product id [id, product_id, sku]"),
    image_column: Optional[list[str]] = typer.Option(None, help="Image column(s); repeat for several"),
    metadata_column: Optional[list[str]] = typer.Option(None, help="Metadata column(s) to keep [all others]"),
    keep_missing: bool = typer.Option(False, help="Keep products that this catalog no longer lists"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
) -> None:
    """Add or update products and images from a catalog (incremental; bad items are reported, not fatal)."""
    from ..catalog_readers import CatalogOptions
    from ..ingest import ingest as run_ingest

    ws = open_ws(workspace, create=True)
    opts = CatalogOptions(id_column, image_column or None, metadata_column or None,
                          str(images_root) if images_root else None)
    with progress_bar("ingest") as update:
        report = run_ingest(ws, catalog, opts, keep_missing=keep_missing, progress=update)
    if as_json:
        print_json({**report.stats(), "problems": [{"item": i, "reason": r} for i, r in report.problems]})
        return
    s = report.stats()
    console.print(
        f"[green]ingested[/green] {s['products']} products: {s['new']} new, {s['changed']} changed, "
        f"{s['unchanged']} unchanged, {s['bad']} bad images; removed {s['removed_products']} products "
        f"no longer listed. Next: lookalike index -w {ws.root}"
    )
    _print_problems(report.problems)


@app.command()
def index(
    workspace: Optional[Path] = WorkspaceOpt,
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Embedder [workspace default, efficientnet_lite0]"),
    augment: Optional[list[str]] = typer.Option(None, help="Extra index-time views: hflip, vflip, rot90, rot180, rot270"),
    backend: str = typer.Option("faiss", help="Index backend: faiss (exact), faiss-hnsw (approximate), pgvector, "
                                "pgvector-hnsw (PostgreSQL at $LOOKALIKE_PG_DSN)"),
    batch_size: int = typer.Option(32, help="Images per inference batch (halved on out-of-memory)"),
    strategy: str = typer.Option("sequential", help="Embedding strategy: sequential (one process) or ray (actors)"),
    workers: int = typer.Option(2, help="sequential: image decode threads; ray: actors (one CPU each)"),
    set_default: bool = typer.Option(False, "--set-default", help="Make this model the workspace default"),
) -> None:
    """Embed new and changed images, then build or refresh the index."""
    from ..distribute import embed
    from ..index.build import build_index

    ws = open_ws(workspace)
    with progress_bar(f"embed {model or ws.default_model}") as update:
        rep = embed(ws, model, augment=augment, batch_size=batch_size, strategy=strategy, workers=workers,
                    progress=update)
    console.print(f"embedded {rep.embedded} images with {rep.model} ({rep.images_per_second:.1f} img/s), "
                  f"{rep.failed} failed")
    _print_problems(rep.problems)
    info, rebuilt = build_index(ws.catalog, ws.index_dir, rep.model, backend)
    console.print(f"index {info.model}: {info.count} vectors, dim {info.dim}, backend {info.backend} "
                  f"({'rebuilt' if rebuilt else 'up to date'})")
    if set_default:
        ws.catalog.set_meta("default_model", rep.model)


@app.command()
def products(workspace: Optional[Path] = WorkspaceOpt, filter: Optional[list[str]] = typer.Option(None, "--filter", "-f"),
             limit: int = 20, as_json: bool = typer.Option(False, "--json")) -> None:
    """List products (with metadata filters)."""
    from ..search import matches, parse_filters

    ws = open_ws(workspace)
    flt = parse_filters(filter)
    rows = [{"id": pid, **meta} for pid, meta in ws.catalog.products().items() if matches(meta, flt)]
    if as_json:
        print_json(rows[:limit])
        return
    cols = sorted({k for r in rows[:limit] for k in r if k != "id"})[:5]
    table = Table(title=f"{len(rows)} products")
    for c in ["id", *cols]:
        table.add_column(c, overflow="fold")
    for r in rows[:limit]:
        table.add_row(r["id"], *[str(r.get(c, "")) for c in cols])
    out.print(table)


@app.command()
def problems(workspace: Optional[Path] = WorkspaceOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show the bad items of the latest run that had any."""
    ws = open_ws(workspace)
    items = ws.catalog.problems()
    if as_json:
        print_json(items)
    elif not items:
        console.print("no problems recorded")
    else:
        _print_problems([(p["item"], p["reason"]) for p in items], limit=1000)


@app.command()
def info(workspace: Optional[Path] = WorkspaceOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """Workspace summary: counts, models, indexes and recent runs."""
    from ..index.build import read_info

    ws = open_ws(workspace)
    cat = ws.catalog
    data = {
        "workspace": str(ws.root), "products": cat.count("products"), "images": cat.count("images"),
        "bad_images": len(cat.images(status="error")), "embeddings": cat.count("embeddings"),
        "default_model": ws.default_model,
        "indexes": {m: (read_info(ws.index_dir, m).__dict__ if read_info(ws.index_dir, m) else None)
                    for m in cat.embedded_models()},
        "runs": cat.runs(5),
    }
    if as_json:
        print_json(data)
        return
    for k in ("workspace", "products", "images", "bad_images", "embeddings", "default_model"):
        out.print(f"[bold]{k}[/bold]: {data[k]}")
    for m, i in data["indexes"].items():
        out.print(f"[bold]index[/bold] {m}: " + (f"{i['count']} vectors ({i['backend']})" if i else "not built"))
