"""Training curves as a PNG next to the run's log, drawn like the eval report's curves."""

from __future__ import annotations

from pathlib import Path

from .loop import LOG


def draw_curves(run_dir: Path) -> Path | None:
    """Draw RUN_DIR/log.jsonl to RUN_DIR/curves.png; None when there is nothing to draw."""
    from ..viz.curves import plot_training_curves

    log = Path(run_dir) / LOG
    if not log.exists() or not log.read_text().strip():
        return None
    return plot_training_curves(log, Path(run_dir) / "curves.png")
