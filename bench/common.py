"""Shared bench helpers: timers, peak memory, machine info, a plain table printer and JSON results."""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
GROCERY = ROOT.parent / "shared" / "datasets" / "grocery_store"
GROCERY_WS = Path("/work/ws/grocery")
BUILTIN_MODELS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "mobilenet_v2")

if str(ROOT) not in sys.path:  # run as `python bench/x.py` from the repo root
    sys.path.insert(0, str(ROOT))


class Timer:
    """Wall-clock seconds of a with-block: `with Timer() as t: ...; t.seconds`."""

    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start


def peak_rss_mb() -> float:
    """Peak resident set size in MiB since the last reset_peak_rss() (Linux VmHWM), else since process start."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return kib / 1024 if sys.platform != "darwin" else kib / 1024 / 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark so the next peak_rss_mb() covers only what follows (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


@contextmanager
def traced_peak():
    """Peak Python-allocated MiB inside the block (tracemalloc); yields a dict filled on exit."""
    import tracemalloc

    out = {"peak_mb": 0.0}
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        yield out
    finally:
        out["peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        if started:
            tracemalloc.stop()


def percentiles_ms(seconds: list[float]) -> dict:
    """p50 / p99 / mean in milliseconds of a list of durations."""
    a = np.asarray(seconds, dtype=np.float64) * 1000
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "mean_ms": float(a.mean()), "n": len(a)}


def machine() -> dict:
    """Where and when a number was taken, including the load it was taken under."""
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def table(rows: list[dict], cols: list[str] | None = None) -> str:
    """A plain fixed-width text table (also valid Markdown)."""
    if not rows:
        return "(no rows)"
    cols = cols or list(rows[0])
    cells = [[_fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = lambda vals: "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cols), sep, *(line(r) for r in cells)])


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def write_result(name: str, payload: dict, out_dir: Path | None = None) -> Path:
    """Write bench/results/NAME.json (machine info added) and return its path."""
    out_dir = Path(out_dir or RESULTS)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2) + "\n")
    return path
