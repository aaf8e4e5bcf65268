"""The bench/ scripts run end to end on a few demo images and write their JSON (no timings are asserted)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))


@pytest.mark.slow
def test_embed_throughput_runs_on_a_few_demo_images(demo_catalog, tmp_path):
    import embed_throughput

    embed_throughput.main(["--manifest", str(demo_catalog), "--id-column", "id", "--image-column", "image",
                           "--limit", "6", "--models", "efficientnet_lite0", "--batch-size", "4",
                           "--bare-images", "8", "--out-dir", str(tmp_path)])
    row = json.loads((tmp_path / "embed_throughput.json").read_text())["rows"][0]
    assert row["model"] == "efficientnet_lite0" and row["images"] == 6 and row["failed"] == 0
    assert row["pipeline_img_s"] > 0 and row["bare_img_s"] > 0 and row["peak_rss_mb"] > 0


@pytest.mark.slow
def test_search_latency_runs_on_the_demo_workspace(ws_copy, tmp_path):
    import search_latency

    search_latency.main(["--workspace", str(ws_copy.root), "--limit", "4", "--photos", "", "-k", "3",
                         "--filter", "group=Packages", "--small-catalog", "group=Fruit", "--out-dir", str(tmp_path)])
    out = json.loads((tmp_path / "search_latency.json").read_text())
    assert {r["case"] for r in out["latency"]} >= {"search photo", "search 3 photos", "similar",
                                                    "similar --filter group=Packages"}
    fruit, whole = out["export"]
    assert whole["products"] == 81 and 0 < fruit["products"] < 81


def test_quality_baseline_finds_each_image_itself(demo_ws, tmp_path):
    import quality_baseline

    # query = gallery, so every image's nearest neighbour is itself: recall@1 must be exactly 1
    out = quality_baseline.main(["--workspace", str(demo_ws.root), "--query", "group=Fruit", "--gallery", "group=Fruit",
                                 "--label", "name", "--out-dir", str(tmp_path)])
    (row,) = out["rows"]
    assert row["queries"] == row["gallery"] > 0 and row["recall@1"] == 1.0 == row["recall@5"]
    assert (tmp_path / "quality_baseline.json").exists()
