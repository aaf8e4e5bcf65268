"""The report folder: metrics.json, PNG figures, and a self-contained index.html (figures embedded as base64)."""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

import numpy as np

from ..viz.curves import plot_bars, plot_cmc, plot_training_curves
from ..viz.grid import Tile, draw_rows
from ..viz.results import hit_image
from ..workspace import Workspace
from .runner import EvalResult

#: metric drawn in the per-category bars
BAR_METRIC = "recall@1"


def write_metrics_json(result: EvalResult, out_dir: Path) -> Path:
    """metrics.json: protocol, set sizes, every metric with its interval, CMC, per-category values."""
    path = out_dir / "metrics.json"
    path.write_text(json.dumps(jsonable(result.to_dict()), indent=1, ensure_ascii=False))
    return path


def jsonable(obj):
    """NaN is not valid JSON: write null instead."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj


def query_difficulty(result: EvalResult) -> np.ndarray:
    """Per query, the mean over models of NDCG at the largest k (NaN for queries with no relevant item)."""
    key = f"ndcg@{max(result.ks)}"
    stacked = np.vstack([r.scores.values[key] for r in result.models.values()])
    return stacked.mean(axis=0)


def pick_queries(result: EvalResult, n: int) -> tuple[list[int], list[int]]:
    """(best, worst) query indices: highest and lowest mean NDCG, ties resolved by query order."""
    score = query_difficulty(result)
    valid = np.flatnonzero(~np.isnan(score))
    order = valid[np.argsort(-score[valid], kind="stable")]
    worst = valid[np.argsort(score[valid], kind="stable")]
    return order[:n].tolist(), worst[:n].tolist()


def query_grid(ws: Workspace, result: EvalResult, queries: list[int], k: int, out: Path, header: str) -> Path:
    """For each query: one row per model, the query photo then that model's top k, green/red for relevance."""
    es = result.eval_set
    item_images = es.gallery_item_images
    cache: dict[int, object] = {}

    def picture(image_id: int):
        if image_id not in cache:
            img = hit_image(ws, image_id)
            img.thumbnail((200, 200))
            cache[image_id] = img
        return cache[image_id]

    rows = []
    for qi in queries:
        for name, res in result.models.items():
            q_tile = Tile(picture(int(es.query_images[qi])), _short(es.query_products[qi]), name)
            row = [q_tile]
            top, scores = res.scores.top[qi][:k], res.scores.top_scores[qi][:k]
            for rank, (item, score) in enumerate(zip(top, scores), start=1):
                rel = bool(es.gallery_labels[item] == es.query_labels[qi])
                row.append(Tile(picture(int(item_images[item])), _short(es.gallery_products[item]),
                                f"#{rank} {score:.3f} {es.gallery_labels[item][:14]}", rel))
            rows.append(row)
    draw_rows(rows, out, header=header)
    return out


def _short(pid: str) -> str:
    """The file name part of a path-like product id (ids of grocery and fashion workspaces are paths)."""
    return pid.rsplit("/", 1)[-1]


def figures(ws: Workspace, result: EvalResult, out_dir: Path, grid_queries: int, grid_k: int) -> dict[str, Path]:
    """Draw every PNG of the report; returns {caption: path}."""
    figs: dict[str, Path] = {}
    n_items = len(result.eval_set.gallery_items)
    figs["CMC curves"] = plot_cmc({m: r.cmc for m, r in result.models.items()}, out_dir / "cmc.png",
                                  title=f"CMC over {n_items} gallery items")
    first = next(iter(result.models.values()))
    for column in first.per:
        bars = {m: {v: _mean_ci(d["metrics"][BAR_METRIC]) for v, d in r.per[column].items()}
                for m, r in result.models.items()}
        figs[f"{BAR_METRIC} per {column}"] = plot_bars(bars, out_dir / f"per_{_slug(column)}.png", BAR_METRIC,
                                                        f"{BAR_METRIC} per {column} (95% CI)")
    best, worst = pick_queries(result, grid_queries)
    if best:
        figs["Best queries"] = query_grid(ws, result, best, grid_k, out_dir / "best_queries.jpg",
                                          "best queries: each row is one model's top results")
        figs["Worst queries"] = query_grid(ws, result, worst, grid_k, out_dir / "worst_queries.jpg",
                                           "worst queries: each row is one model's top results")
    for model in result.models:
        log = ws.model_dir / model / "log.jsonl"
        if log.exists():
            figs[f"Training curves: {model}"] = plot_training_curves(log, out_dir / f"training_{_slug(model)}.png")
    return figs


def _mean_ci(m: dict) -> tuple[float, float, float]:
    lo, hi = m["ci95"]
    return m["mean"], lo if lo is not None else m["mean"], hi if hi is not None else m["mean"]


def _data_uri(path: Path) -> str:
    """A figure file as a data: URI, so index.html needs no other file."""
    mime = "image/jpeg" if path.suffix.lower() in (".jpg", ".jpeg") else "image/png"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)


def write_report(ws: Workspace, result: EvalResult, out_dir: str | Path, grid_queries: int = 6, grid_k: int = 5,
                 embedding_plot: str | None = None) -> Path:
    """Write metrics.json, the PNGs and index.html into out_dir; returns the index.html path."""
    from .report_html import render_index

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_metrics_json(result, out_dir)
    figs = figures(ws, result, out_dir, grid_queries, grid_k)
    embedded = {caption: _data_uri(p) for caption, p in figs.items()}
    index = out_dir / "index.html"
    index.write_text(render_index(result, embedded, embedding_plot, html.escape(str(ws.root))), encoding="utf-8")
    return index
