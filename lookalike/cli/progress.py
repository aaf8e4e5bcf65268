"""Rich progress bars with throughput and ETA, and the table/JSON renderers the CLI shares."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.table import Table

console = Console(stderr=True)
out = Console()


@contextmanager
def progress_bar(label: str, unit: str = "img") -> Iterator[Callable[[int, int], None]]:
    """Yields an update(done, total) callback that drives a rich progress bar."""
    cols = [TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*cols, console=console, transient=False) as prog:
        task = prog.add_task(label, total=None, rate="")

        def update(done: int, total: int) -> None:
            speed = prog.tasks[0].speed
            prog.update(task, completed=done, total=total, rate=f"{speed:.1f} {unit}/s" if speed else "")

        yield update


def print_json(obj) -> None:
    """Machine output on stdout."""
    out.print_json(json.dumps(obj, ensure_ascii=False, default=str))


def print_hits(hits, title: str, columns: list[str] | None = None) -> None:
    """Hits as a readable table."""
    if columns is None:  # short columns read best in a terminal table
        keys = sorted({k for h in hits for k in h.metadata})
        columns = [c for c in keys if max(len(str(h.metadata.get(c, ""))) for h in hits) <= 32][:4]
    meta_cols = columns
    table = Table(title=title)
    for c in ["#", "product", "score", *meta_cols]:
        table.add_column(c, overflow="fold")
    for h in hits:
        table.add_row(str(h.rank), h.product_id, f"{h.score:.4f}", *[str(h.metadata.get(c, "")) for c in meta_cols])
    out.print(table)
