"""Bounded load test of `lookalike serve` on loopback: concurrent clients on /products/{id}/similar and /search,
with reindexes triggered mid-run. Prints a table and writes bench/results/serve_load.json. Stops by itself.

    python bench/serve_load.py                      # builds a demo workspace in a temp dir first (~20 s)
    python bench/serve_load.py --workspace ws/      # a copy of ws/ is served, so the original is untouched
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "serve_load.json"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workspace", type=Path, help="workspace to serve (copied first) [a fresh demo workspace]")
    p.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    p.add_argument("--requests", type=int, default=400, help="total requests (half similar, half search)")
    p.add_argument("--max-seconds", type=float, default=120, help="stop after this long even if requests remain")
    p.add_argument("--reindexes", type=int, default=3, help="reindexes triggered at evenly spaced points")
    p.add_argument("--k", type=int, default=10)
    return p.parse_args()


def demo_workspace(dst: Path) -> None:
    """Ingest, embed and index the committed demo catalog into dst."""
    from lookalike.embed import embed_new
    from lookalike.index.build import build_index
    from lookalike.ingest import ingest
    from lookalike.workspace import Workspace

    ws = Workspace(dst)
    ingest(ws, ROOT / "demo" / "catalog.csv")
    build_index(ws.catalog, ws.index_dir, embed_new(ws).model)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(ws: Path, port: int, key: str) -> subprocess.Popen:
    """`lookalike serve` in a child process, on 127.0.0.1 only; returns once /health says ready."""
    code = ("import sys; from lookalike.cli import main; "
            f"sys.argv = ['lookalike', 'serve', '-w', {str(ws)!r}, '--host', '127.0.0.1', '--port', '{port}', "
            "'--log-level', 'warning']; main()")
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "LOOKALIKE_API_KEY": key})
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json().get("ready"):
                return proc
        except (httpx.HTTPError, ValueError):
            pass
        if proc.poll() is not None:
            raise SystemExit(f"server exited with status {proc.returncode}")
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit("server did not become ready in 90 s")


class Load:
    """Shared job counter, per-request records, and the reindex windows."""

    def __init__(self, base: str, key: str, args: argparse.Namespace, product_ids: list[str], photos: list[bytes]):
        self.base, self.key, self.args = base, key, args
        self.ids, self.photos = product_ids, photos
        self.jobs = itertools.count()
        self.lock = threading.Lock()
        self.records: list[tuple[str, float, float, int]] = []  # endpoint, start, seconds, status
        self.windows: list[list[float]] = []
        self.deadline = time.monotonic() + args.max_seconds
        step = max(1, args.requests // (args.reindexes + 1))
        self.reindex_at = {step * (i + 1) for i in range(args.reindexes)}

    def worker(self) -> None:
        with httpx.Client(base_url=self.base, timeout=60) as client:
            while time.monotonic() < self.deadline:
                i = next(self.jobs)
                if i >= self.args.requests:
                    return
                if i in self.reindex_at:
                    threading.Thread(target=self.reindex, daemon=True).start()
                self.one(client, i)

    def one(self, client: httpx.Client, i: int) -> None:
        t0 = time.monotonic()
        try:
            if i % 2 == 0:
                name = "GET /products/{id}/similar"
                resp = client.get(f"/products/{self.ids[i % len(self.ids)]}/similar", params={"k": self.args.k})
            else:
                name = "POST /search"
                photo = self.photos[i % len(self.photos)]
                resp = client.post("/search", files={"files": ("q.jpg", photo, "image/jpeg")},
                                   data={"k": str(self.args.k)})
            status = resp.status_code if resp.status_code != 200 or resp.json()["results"] else 599
        except httpx.HTTPError:
            status = 0
        with self.lock:
            self.records.append((name, t0, time.monotonic() - t0, status))

    def reindex(self) -> None:
        with httpx.Client(base_url=self.base, timeout=60, headers={"X-API-Key": self.key}) as client:
            t0 = time.monotonic()
            if client.post("/reindex").status_code != 202:
                return  # one is already running
            while client.get("/reindex").json().get("state") == "running":
                time.sleep(0.02)
            self.windows.append([t0, time.monotonic()])


def summarise(load: Load, wall: float) -> dict:
    """Per-endpoint throughput, latency percentiles and failures, and failures during reindexes."""
    rows = {}
    for name in sorted({r[0] for r in load.records}):
        recs = [r for r in load.records if r[0] == name]
        ms = np.array([r[2] for r in recs]) * 1000
        rows[name] = {"requests": len(recs), "failures": sum(r[3] != 200 for r in recs),
                      "throughput_rps": round(len(recs) / wall, 2), "p50_ms": round(float(np.percentile(ms, 50)), 1),
                      "p90_ms": round(float(np.percentile(ms, 90)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1)}
    during = [r for r in load.records if any(r[1] < b and r[1] + r[2] > a for a, b in load.windows)]
    return {"endpoints": rows, "wall_seconds": round(wall, 2), "total_requests": len(load.records),
            "total_throughput_rps": round(len(load.records) / wall, 2),
            "reindexes": len(load.windows), "reindex_seconds": [round(b - a, 3) for a, b in load.windows],
            "requests_during_reindex": len(during), "failures_during_reindex": sum(r[3] != 200 for r in during)}


def print_table(summary: dict) -> None:
    head = f"{'endpoint':30} {'requests':>8} {'fail':>5} {'req/s':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}"
    print(head)
    print("-" * len(head))
    for name, r in summary["endpoints"].items():
        print(f"{name:30} {r['requests']:>8} {r['failures']:>5} {r['throughput_rps']:>7} {r['p50_ms']:>8} "
              f"{r['p90_ms']:>8} {r['p99_ms']:>8}")
    print(f"\n{summary['total_requests']} requests in {summary['wall_seconds']} s "
          f"({summary['total_throughput_rps']} req/s); {summary['reindexes']} reindexes "
          f"({', '.join(f'{s} s' for s in summary['reindex_seconds'])}) overlapped "
          f"{summary['requests_during_reindex']} requests, {summary['failures_during_reindex']} of them failed")


def main() -> None:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lookalike-load-"))
    ws = tmp / "ws"
    if args.workspace:
        shutil.copytree(args.workspace, ws, ignore=shutil.ignore_patterns("thumbs"))
    else:
        print("building a demo workspace ...", flush=True)
        demo_workspace(ws)
    key, port = secrets.token_hex(16), free_port()
    proc = start_server(ws, port, key)
    try:
        base = f"http://127.0.0.1:{port}"
        ids = [p["id"] for p in httpx.get(f"{base}/products", params={"page_size": 200}).json()["items"]]
        photos = [p.read_bytes() for p in sorted((ROOT / "demo" / "queries").glob("*.jpg"))[:20]]
        load = Load(base, key, args, ids, photos)
        threads = [threading.Thread(target=load.worker) for _ in range(args.clients)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        time.sleep(0.5)  # let a last reindex record its window
        summary = summarise(load, wall)
    finally:
        proc.terminate()
        proc.wait(15)
        shutil.rmtree(tmp, ignore_errors=True)
    print_table(summary)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
               "load_average_1min_at_end": round(os.getloadavg()[0], 2)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"config": config, "machine": machine, **summary}, indent=2))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
