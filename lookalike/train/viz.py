"""Training curves as a PNG: the eval helper's drawer when present, else a small matplotlib plot."""

from __future__ import annotations

import json
from pathlib import Path

from .loop import LOG


def draw_curves(run_dir: Path) -> Path | None:
    """Draw RUN_DIR/log.jsonl to RUN_DIR/curves.png; None when there is nothing to draw."""
    log, out = Path(run_dir) / LOG, Path(run_dir) / "curves.png"
    if not log.exists() or not log.read_text().strip():
        return None
    try:
        from ..viz import curves  # written by the evaluation work; preferred so reports look alike
    except ImportError:
        curves = None
    fn = getattr(curves, "draw_training_curves", None) or getattr(curves, "draw_log", None) if curves else None
    if fn is not None:
        try:
            fn(log, out)
            return out
        except Exception:  # noqa: BLE001  fall back to our own drawing rather than lose the curves
            pass
    return _draw(log, out)


def _draw(log: Path, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    epochs = [r["epoch"] for r in recs]
    metrics = sorted({k for r in recs for k in r if "recall" in k})
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.plot(epochs, [r["loss"] for r in recs], marker="o")
    a.set(title="training loss", xlabel="epoch")
    for m in metrics:
        b.plot(epochs, [r.get(m) for r in recs], marker="o", label=m)
    b.set(title="validation", xlabel="epoch", ylim=(0, 1))
    if metrics:
        b.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
