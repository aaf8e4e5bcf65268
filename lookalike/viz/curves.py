"""Curves as PNG: CMC curves, per-category bars, and training curves from a run's JSON-lines log."""

from __future__ import annotations

import json
import math
from pathlib import Path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def read_log(path: str | Path) -> list[dict]:
    """Records of a JSON-lines training log; unreadable lines are skipped."""
    rows = []
    for line in Path(path).read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _numeric_series(rows: list[dict]) -> tuple[list[float], dict[str, list[tuple[float, float]]]]:
    """x (epoch, else step, else line number) and every other numeric key as (x, value) points."""
    xkey = next((k for k in ("epoch", "step") if any(k in r for r in rows)), None)
    series: dict[str, list[tuple[float, float]]] = {}
    xs = []
    for n, r in enumerate(rows):
        x = float(r.get(xkey, n)) if xkey else float(n)
        xs.append(x)
        for k, v in r.items():
            if k == xkey or isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                continue
            series.setdefault(k, []).append((x, float(v)))
    return xs, series


def curve_panels(rows: list[dict]) -> list[tuple[str, dict]]:
    """(title, {key: [(epoch, value)]}) panels of a training log: losses, then quality metrics.

    Bookkeeping values (seconds, learning rate) are left out: their scale would flatten the recalls.
    """
    _, series = _numeric_series(rows)
    for bookkeeping in ("seconds", "lr", "resumed_from"):
        series.pop(bookkeeping, None)
    losses = {k: v for k, v in series.items() if "loss" in k.lower()}
    others = {k: v for k, v in series.items() if k not in losses}
    return [p for p in (("loss", losses), ("metrics", others)) if p[1]] or [("(no numeric values)", {})]


def plot_training_curves(log: str | Path, out: str | Path, title: str | None = None) -> Path:
    """Draw a training log's losses (left) and quality metrics (right) against epoch."""
    rows = read_log(log)
    panels = curve_panels(rows)
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8), squeeze=False)
    for ax, (name, group) in zip(axes[0], panels):
        for key, pts in sorted(group.items()):
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label=key)
        ax.set_xlabel("epoch" if any("epoch" in r for r in rows) else "step")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        if group:
            ax.legend(fontsize=8)
    fig.suptitle(title or Path(log).parent.name)
    fig.tight_layout()
    return _save(fig, out)


def plot_cmc(curves: dict[str, list[float]], out: str | Path, max_rank: int | None = None,
             title: str = "CMC") -> Path:
    """One CMC line per model (recall@k against k, log-scaled k)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name, curve in curves.items():
        ys = curve[:max_rank] if max_rank else curve
        ax.plot(range(1, len(ys) + 1), ys, label=name, lw=1.8)
    ax.set_xscale("log")
    ax.set_xlabel("rank k")
    ax.set_ylabel("recall@k (queries with a relevant item in top k)")
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, out)


def plot_bars(values: dict[str, dict[str, tuple[float, float, float]]], out: str | Path, ylabel: str,
              title: str) -> Path:
    """Grouped bars: {model: {category: (mean, lo, hi)}}, with interval whiskers, categories along x."""
    import numpy as np

    plt = _pyplot()
    cats = sorted({c for per in values.values() for c in per})
    width = 0.8 / max(1, len(values))
    fig, ax = plt.subplots(figsize=(min(14.0, max(6.0, 0.3 * len(cats) * max(1, len(values)) + 2)), 4.2))
    x = np.arange(len(cats))
    for i, (name, per) in enumerate(values.items()):
        mean = np.array([per.get(c, (np.nan,) * 3)[0] for c in cats])
        lo = np.array([per.get(c, (np.nan,) * 3)[1] for c in cats])
        hi = np.array([per.get(c, (np.nan,) * 3)[2] for c in cats])
        err = np.nan_to_num(np.vstack([mean - lo, hi - mean]))
        ax.bar(x + i * width - 0.4 + width / 2, np.nan_to_num(mean), width, yerr=err, capsize=2, label=name)
    ax.set_xticks(x, [c[:18] for c in cats], rotation=60 if len(cats) > 6 else 0, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return _save(fig, out)


def _save(fig, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    _pyplot().close(fig)
    return out
