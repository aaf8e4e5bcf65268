"""Pack a trained model in one workspace and import it into another (GPU box -> CPU box), with integrity checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("torch", reason="training the model to move needs torch (pip install 'lookalike[torch]')")

from lookalike import images  # noqa: E402
from lookalike.cli import load_commands  # noqa: E402
from lookalike.errors import BadInput, NotFound  # noqa: E402
from lookalike.train.fit_head import HeadConfig, train_head  # noqa: E402
from lookalike.train.transfer import import_model, pack_model  # noqa: E402
from lookalike.workspace import Workspace  # noqa: E402

runner = CliRunner()


@pytest.fixture
def trained(ws_copy):
    """The demo workspace with a small metric head trained on it (stored lite0 features: seconds)."""
    cfg = HeadConfig("demo-move", "efficientnet_lite0", labels="product", epochs=2, batch_size=32, m_per_class=2,
                     views=0, patience=99)
    train_head(ws_copy, cfg)
    return ws_copy


def test_pack_then_import_gives_the_same_vectors(trained, tmp_path, demo_queries):
    spec_path = pack_model(trained, "demo-move", tmp_path / "pack")
    other = Workspace(tmp_path / "other", create=True)
    result = runner.invoke(load_commands(), ["import-model", str(spec_path), "-w", str(other.root), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["name"] == "demo-move"
    src, dst = trained.catalog.workspace_models()["demo-move"], other.catalog.workspace_models()["demo-move"]
    assert dst["version"] == src["version"] and dst["lineage"] == src["lineage"]
    img = images.load(demo_queries[0][0])
    a, b = trained.embedder("demo-move").embed([img]), other.embedder("demo-move").embed([img])
    assert np.array_equal(a, b) and a.shape == (1, 256)
    listed = runner.invoke(load_commands(), ["models", "-w", str(other.root), "--json"])
    assert {"name": "demo-move", "kind": "trained"}.items() <= {
        k: v for r in json.loads(listed.output) if r["name"] == "demo-move" for k, v in r.items()}.items()


def test_import_under_another_name(trained, tmp_path):
    spec_path = pack_model(trained, "demo-move", tmp_path / "pack")
    assert import_model(trained, spec_path, name="demo-move-2")["name"] == "demo-move-2"
    assert {"demo-move", "demo-move-2"} <= set(trained.catalog.workspace_models())


def test_damaged_or_incomplete_packs_are_refused(trained, tmp_path):
    spec_path = pack_model(trained, "demo-move", tmp_path / "pack")
    other = Workspace(tmp_path / "other", create=True)
    onnx = spec_path.parent / "demo-move.onnx"
    data = onnx.read_bytes()
    onnx.write_bytes(data[: len(data) // 2])  # a partial copy
    with pytest.raises(BadInput, match="does not match"):
        import_model(other, spec_path)
    onnx.unlink()
    with pytest.raises(BadInput, match="is missing"):
        import_model(other, spec_path)
    with pytest.raises(BadInput, match="does not exist"):
        import_model(other, tmp_path / "nope.model.json")
    (tmp_path / "junk.model.json").write_text("{not json")
    with pytest.raises(BadInput, match="not a model spec"):
        import_model(other, tmp_path / "junk.model.json")
    assert other.catalog.workspace_models() == {}
    with pytest.raises(NotFound, match="no trained model"):
        pack_model(trained, "nope", tmp_path / "x")
    with pytest.raises(BadInput, match="built-in"):
        import_model(other, pack_model(trained, "demo-move", tmp_path / "p2"), name="efficientnet_lite0")
