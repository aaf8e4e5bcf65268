"""Quality commands: eval (metrics and a report folder) and plot (embedding space, comparison grids, curves)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from . import app
from .catalog_cmds import WorkspaceOpt, open_ws
from .progress import console, out, print_json

plot_app = typer.Typer(help="Pictures: the embedding space, side-by-side result grids, training curves.",
                       no_args_is_help=True)
app.add_typer(plot_app, name="plot")

QueryOpt = typer.Option(None, "--query", "-q", help="Which images are queries: key=v1,v2 or key!=v (repeat = AND)")
GalleryOpt = typer.Option(None, "--gallery", "-g", help="Which images form the gallery (default: all images)")
RelevantOpt = typer.Option("id", "--relevant", "-r", help="Column that makes an item relevant: id, label, ...")
UnitOpt = typer.Option("image", "--unit", help="Gallery items: image, or product (max over its images)")


def _split(items: Optional[list[str]]) -> list[str]:
    """Options given repeated or comma-separated -> one flat list."""
    return [p.strip() for item in items or [] for p in item.split(",") if p.strip()]


def _protocol(relevant: str, query, gallery, leave_one_out: bool, unit: str):
    from ..evaluate.protocol import Protocol

    return Protocol(relevant=relevant, query=list(query or []), gallery=list(gallery or []),
                    leave_one_out=leave_one_out, unit=unit)


def _summary_table(result) -> Table:
    first = next(iter(result.models.values()))
    metrics = [m for m in ("recall@1", "recall@5", "recall@10", "map@r", "ndcg@10") if m in first.summary]
    table = Table(title=f"{len(result.eval_set.query_images)} queries, {len(result.eval_set.gallery_items)} "
                        f"gallery items, relevant = same {result.protocol.relevant} (± half the 95% CI)")
    for col in ["model", *metrics]:
        table.add_column(col, justify="left" if col == "model" else "right", no_wrap=col == "model")
    for name, r in result.models.items():
        cells = [_cell(r.summary[m]) for m in metrics]
        table.add_row(name, *cells)
    return table


def _cell(m: dict) -> str:
    """'0.302 ±0.019' (half the 95% interval), or just the mean without intervals."""
    lo, hi = m["ci95"]
    if math.isnan(lo) or math.isnan(hi):  # no bootstrap
        return f"{m['mean']:.3f}"
    return f"{m['mean']:.3f} ±{(hi - lo) / 2:.3f}"


@app.command("eval")
def eval_(
    workspace: Optional[Path] = WorkspaceOpt,
    models: Optional[list[str]] = typer.Option(None, "--models", "-m", help="Models to compare (a,b or repeat)"),
    relevant: str = RelevantOpt,
    query: Optional[list[str]] = QueryOpt,
    gallery: Optional[list[str]] = GalleryOpt,
    leave_one_out: bool = typer.Option(False, "--leave-one-out", help="Gallery = the query set, minus each query"),
    unit: str = UnitOpt,
    per: Optional[list[str]] = typer.Option(None, "--per", help="Per-category breakdown by these columns"),
    ks: str = typer.Option("1,5,10,20", "--k", help="Cut-offs for recall/precision/map/ndcg"),
    bootstrap: int = typer.Option(1000, help="Bootstrap resamples for the 95% intervals (0: none)"),
    report: Optional[Path] = typer.Option(None, help="Write a report folder: metrics.json, index.html, PNGs"),
    embedding_plot: bool = typer.Option(True, help="With --report: also write the 3D embedding plot"),
    color_by: Optional[str] = typer.Option(None, help="Embedding plot colour column [first --per, else --relevant]"),
    as_json: bool = typer.Option(False, "--json", help="Print metrics.json to stdout"),
) -> None:
    """How good is each model at finding the relevant items? Metrics with 95% intervals, and a report."""
    from ..errors import BadInput
    from ..evaluate.report import jsonable, write_report
    from ..evaluate.runner import evaluate

    ws = open_ws(workspace)
    names = _split(models) or [ws.default_model]
    try:
        cutoffs = [int(k) for k in _split([ks])]
    except ValueError as e:
        raise BadInput(f"--k {ks!r} must be comma-separated whole numbers, for example --k 1,5,10") from e
    if not cutoffs or min(cutoffs) < 1:
        raise BadInput(f"--k {ks!r} must list numbers >= 1, for example --k 1,5,10")
    protocol = _protocol(relevant, query, gallery, leave_one_out, unit)
    columns = _split(per)
    with console.status("ranking and scoring"):
        result = evaluate(ws, names, protocol, cutoffs, columns, bootstrap)
    if report is not None:
        plot_name = _report_plot(ws, result, report, color_by or (columns[0] if columns else relevant), embedding_plot)
        index = write_report(ws, result, report, embedding_plot=plot_name)
        console.print(f"report: {index}")
    if as_json:
        print_json(jsonable(result.to_dict()))
    else:
        out.print(_summary_table(result))
    missing = int((next(iter(result.models.values())).scores.n_rel == 0).sum())
    if missing:
        console.print(f"[yellow]{missing} queries have no relevant item in the gallery; they are left out of the "
                      "means.[/yellow]")


def _report_plot(ws, result, report: Path, color_by: str, enabled: bool) -> str | None:
    """Write the embedding plot of the first model beside the report; returns its relative name."""
    if not enabled:
        return None
    from ..evaluate.protocol import parse_selection, selected
    from ..viz.embedding_plot import plot_embeddings

    p = result.protocol
    qc, gc = parse_selection(p.query), parse_selection(p.gallery)
    model = next(iter(result.models))
    with console.status("embedding plot"):
        plot_embeddings(ws, model, Path(report) / "embeddings.html", color_by, max_points=1000,
                        keep=lambda meta: selected(meta, qc) or (not p.leave_one_out and selected(meta, gc)))
    return "embeddings.html"


@plot_app.command("embeddings")
def plot_embeddings_cmd(
    workspace: Optional[Path] = WorkspaceOpt,
    model: Optional[str] = typer.Option(None, "--model", "-m"),
    color_by: str = typer.Option("group", "--color-by", help="Metadata column that picks each point's colour"),
    out_path: Path = typer.Option(Path("embeddings.html"), "--out", "-o", help="Standalone HTML file"),
    method: str = typer.Option("pca", help="pca, or umap (needs umap-learn)"),
    max_points: int = typer.Option(2000, help="Plot a random sample of at most this many images"),
    select: Optional[list[str]] = typer.Option(None, "--filter", "-f", help="Only these images: key=v (repeat)"),
) -> None:
    """An interactive 3D view of the embedding space, coloured by a column, thumbnails on hover."""
    from ..evaluate.protocol import parse_selection, selected
    from ..viz.embedding_plot import plot_embeddings

    ws = open_ws(workspace)
    conds = parse_selection(select)
    with console.status("projecting and drawing thumbnails"):
        path = plot_embeddings(ws, model or ws.default_model, out_path, color_by, max_points, method,
                               keep=lambda meta: selected(meta, conds))
    console.print(f"wrote {path} (open it in a browser; it works offline)")


@plot_app.command("grid")
def plot_grid_cmd(
    workspace: Optional[Path] = WorkspaceOpt,
    models: Optional[list[str]] = typer.Option(None, "--models", "-m", help="Models side by side (a,b)"),
    queries: int = typer.Option(8, "--queries", "-n", help="How many random queries"),
    k: int = typer.Option(5, "-k", help="Results per row"),
    relevant: str = RelevantOpt,
    query: Optional[list[str]] = QueryOpt,
    gallery: Optional[list[str]] = GalleryOpt,
    unit: str = UnitOpt,
    seed: int = typer.Option(0, help="Seed of the random query choice"),
    out_path: Path = typer.Option(Path("compare.png"), "--out", "-o", help="PNG (or .jpg) file"),
) -> None:
    """The same random queries, one row per model: query, then its top k with scores, green = relevant."""
    import numpy as np

    from ..evaluate.report import query_grid
    from ..evaluate.runner import evaluate

    ws = open_ws(workspace)
    names = _split(models) or [ws.default_model]
    protocol = _protocol(relevant, query, gallery, False, unit)
    result = evaluate(ws, names, protocol, (k,), None, 0)
    n = len(result.eval_set.query_images)
    chosen = np.sort(np.random.default_rng(seed).choice(n, min(queries, n), replace=False)).tolist()
    query_grid(ws, result, chosen, k, out_path, f"{', '.join(names)}: top {k}, green = same {relevant}")
    console.print(f"wrote {out_path}")


@plot_app.command("curves")
def plot_curves_cmd(
    workspace: Optional[Path] = WorkspaceOpt,
    model: str = typer.Option(..., "--model", "-m", help="A trained model of this workspace"),
    out_path: Path = typer.Option(Path("curves.png"), "--out", "-o"),
) -> None:
    """Training curves (every numeric value in the run's log) as a PNG."""
    from ..errors import NotFound
    from ..viz.curves import plot_training_curves

    ws = open_ws(workspace)
    log = ws.model_dir / model / "log.jsonl"
    if not log.exists():
        raise NotFound(f"no training log at {log}; train one with: lookalike train -w {ws.root} --name {model}")
    plot_training_curves(log, out_path, title=model)
    console.print(f"wrote {out_path}")
