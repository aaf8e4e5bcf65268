"""Embedding strategies: Ray actors give the same vectors as the sequential pipeline, and names are checked."""

from __future__ import annotations

import numpy as np
import pytest

from lookalike.distribute import embed, get_strategy, list_strategies
from lookalike.errors import BadInput


def test_unknown_strategy_lists_the_valid_ones(demo_ws):
    assert list_strategies() == ["ray", "sequential"]
    with pytest.raises(BadInput, match="unknown embedding strategy 'spark'; valid strategies: ray, sequential"):
        get_strategy("spark")
    with pytest.raises(BadInput, match="valid strategies"):
        embed(demo_ws, strategy="dask")


def test_cli_index_takes_strategy_and_workers(demo_ws):
    from typer.testing import CliRunner

    from lookalike.cli import app, load_commands

    load_commands()
    res = CliRunner().invoke(app, ["index", "-w", str(demo_ws.root), "--strategy", "spark", "--workers", "3"])
    assert isinstance(res.exception, BadInput) and "valid strategies: ray, sequential" in res.exception.message


def test_sequential_strategy_is_embed_new(ws_copy):
    model = ws_copy.default_model
    rep = embed(ws_copy, strategy="sequential")
    assert rep.model == model and rep.embedded == 0  # the demo workspace is already embedded


@pytest.fixture(scope="module")
def local_ray():
    """A 2-CPU local Ray for this module (no dashboard)."""
    ray = pytest.importorskip("ray", reason="the ray strategy needs: pip install 'lookalike[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_strategy_matches_sequential(local_ray, demo_ws, ws_copy, tmp_path):
    model = demo_ws.default_model
    want_ids, want_vecs = demo_ws.catalog.embeddings(model)  # written by the sequential embed_new
    cat = ws_copy.catalog
    cat.delete_embeddings(model)
    # one image turned corrupt on disk since ingest: it is recorded, the rest are kept
    bad = tmp_path / "corrupt.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    bad_id = cat.images()[5].id
    with cat.transaction() as c:
        c.execute("UPDATE images SET local_path=? WHERE id=?", (str(bad), bad_id))
    seen = []
    rep = embed(ws_copy, strategy="ray", workers=2, batch_size=16, progress=lambda done, total: seen.append(total))
    assert rep.failed == 1 and rep.embedded == len(want_ids) - 1
    assert cat.image(bad_id).status == "error" and "corrupt.jpg" in rep.problems[0][0] + rep.problems[0][1]
    got_ids, got_vecs = cat.embeddings(model)
    keep = want_ids // 16 != bad_id
    np.testing.assert_array_equal(got_ids, want_ids[keep])
    np.testing.assert_allclose(got_vecs, want_vecs[keep], atol=1e-5)
    assert seen and seen[-1] == len(want_ids)
    assert embed(ws_copy, strategy="ray", workers=2).embedded == 0  # incremental: nothing left to do
