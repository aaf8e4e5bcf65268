"""Training: every learner trains on the real demo catalog, exports to ONNX, indexes and searches; resume; bad configs."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training needs torch (pip install 'lookalike[torch]')")
pytest.importorskip("pytorch_metric_learning", reason="metric learning needs pytorch-metric-learning")

from lookalike.errors import BadInput  # noqa: E402
from lookalike.train.data import Augment, load_data  # noqa: E402
from lookalike.train.export import ONNX_ATOL  # noqa: E402
from lookalike.train.fit_head import HeadConfig, train_head  # noqa: E402

BASE = "efficientnet_lite0"  # the demo workspace is embedded with it, so view-0 features need no inference
FRUIT = "group=Fruit"  # 28 products, 56 images: a small real subset for the learners that read pixels


def _history(ws, name: str) -> list[dict]:
    return [json.loads(line) for line in (ws.model_dir / name / "log.jsonl").read_text().splitlines()]


def _head_cfg(name: str, **kw) -> HeadConfig:
    base = dict(base=BASE, labels="product", epochs=6, batch_size=32, m_per_class=2, lr=3e-3, views=0, patience=99)
    return HeadConfig(name, **{**base, **kw})


def test_metric_head_learns_exports_and_searches(ws_copy, demo_queries):
    """Loss goes down; the ONNX model equals torch on real photos; the model indexes and answers searches."""
    from lookalike import images
    from lookalike.embed import embed_new
    from lookalike.embedders.registry import get_spec
    from lookalike.index.build import build_index
    from lookalike.search import Searcher
    from lookalike.train.heads import EmbeddingNet, ProjectionHead

    result = train_head(ws_copy, _head_cfg("demo-ms"))
    hist = _history(ws_copy, "demo-ms")
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert result["best"] >= hist[0]["train_loo_recall@1"]

    spec = ws_copy.catalog.workspace_models()["demo-ms"]
    assert spec["base"] == BASE and spec["lineage"]["seed"] == 0 and spec["lineage"]["hyper"]["loss"] == "multi_similarity"
    # the ONNX graph and the torch modules agree on real photos, within ONNX_ATOL on unit vectors
    head = ProjectionHead(1280, 256)
    state = torch.load(ws_copy.model_dir / "demo-ms" / "ckpt.pt", weights_only=False)
    head.load_state_dict(state["best_state"]["head"])
    net = EmbeddingNet(get_spec(BASE).build(), head).eval()
    embedder = ws_copy.embedder("demo-ms")
    photos = [images.load(p) for p, _ in demo_queries[:4]]
    with torch.no_grad():
        ref = torch.nn.functional.normalize(net(torch.from_numpy(np.stack([embedder.preprocess(p) for p in photos]))),
                                            dim=1).numpy()
    assert np.abs(embedder.embed(photos) - ref).max() < ONNX_ATOL

    rep = embed_new(ws_copy, "demo-ms")
    assert rep.embedded == ws_copy.catalog.count("images") and rep.failed == 0
    build_index(ws_copy.catalog, ws_copy.index_dir, "demo-ms")
    searcher = Searcher(ws_copy, "demo-ms")
    hits = [searcher.search_images([images.load(p)], k=5) for p, _ in demo_queries]
    assert all(len(h) == 5 for h in hits)
    top5 = np.mean([pid in {x.product_id for x in h} for h, (_, pid) in zip(hits, demo_queries)])
    assert top5 >= 0.5  # 81 products: chance is 0.06


@pytest.mark.parametrize("loss,miner", [("triplet", "semihard"), ("proxy_anchor", "none"), ("arcface", "none")])
def test_other_losses_train(ws_copy, loss, miner):
    """Triplet with a semi-hard miner and the proxy losses run through the same loop and lower their loss."""
    train_head(ws_copy, _head_cfg(f"demo-{loss}", loss=loss, miner=miner, epochs=4))
    hist = _history(ws_copy, f"demo-{loss}")
    assert hist[-1]["loss"] < hist[0]["loss"]


def test_classifier_and_unlabeled_views(ws_copy):
    """A classifier head on augmented-view features, and unlabeled training where positives are augmented views."""
    train_head(ws_copy, _head_cfg("demo-cls", learner="classifier", labels="category", train=FRUIT, views=1,
                                  m_per_class=1, epochs=5))
    hist = _history(ws_copy, "demo-cls")
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert ws_copy.embedder("demo-cls").dim == 256

    # the same cached views serve unlabeled mode (the cache is keyed by images, views, augmentation and seed)
    train_head(ws_copy, _head_cfg("demo-self", labels="none", train=FRUIT, views=1, epochs=5))
    hist = _history(ws_copy, "demo-self")
    assert hist[-1]["loss"] < hist[0]["loss"] and "aug_recall@1" in hist[-1]


@pytest.mark.slow
@pytest.mark.parametrize("variational", [False, True])
def test_autoencoder_learns(ws_copy, variational):
    """Conv autoencoder and VAE: reconstruction loss goes down; the latent is a registered embedder."""
    from lookalike.train.autoencoder import AutoencoderConfig, train_autoencoder

    cfg = AutoencoderConfig("demo-ae", variational=variational, size=32, dim=16, epochs=4, batch_size=16,
                            train=FRUIT)
    train_autoencoder(ws_copy, cfg)
    hist = _history(ws_copy, "demo-ae")
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert ws_copy.embedder("demo-ae").dim == 16
    assert ws_copy.catalog.workspace_models()["demo-ae"]["lineage"]["onnx_max_abs_diff"] < ONNX_ATOL


def test_pca_graph_matches_numpy(ws_copy):
    """PCA + whitening appended to the base ONNX graph gives the NumPy projection of the base vectors."""
    from lookalike import images
    from lookalike.train.pca import PcaConfig, apply_pca, fit_pca, train_pca

    out = train_pca(ws_copy, PcaConfig("demo-pca", BASE, dim=32, whiten=True))
    assert 0 < out["explained_variance"] <= 1
    _, vecs = ws_copy.catalog.embeddings(BASE, views=[0])
    mean, proj, _ = fit_pca(vecs, 32, True)
    img = [images.load(ws_copy.catalog.images()[0].local_path)]
    got = ws_copy.embedder("demo-pca").embed(img)
    want = apply_pca(ws_copy.embedder(BASE).embed(img), mean, proj)
    assert got.shape == (1, 32) and np.abs(got - want).max() < ONNX_ATOL


@pytest.mark.slow
def test_finetune_last_stage(ws_copy):
    """Mode 2: the last backbone stage and the head train on augmented pixels; the loss goes down."""
    from lookalike.train.finetune import FinetuneConfig, train_finetune

    cfg = FinetuneConfig("demo-ft", BASE, "category", train=FRUIT, stages=1, epochs=3, batch_size=16,
                         m_per_class=2, lr=3e-3, backbone_lr=1e-3, workers=0, augment="crop_scale=0.8,blur=0",
                         cache_views=0)
    result = train_finetune(ws_copy, cfg)
    hist = _history(ws_copy, "demo-ft")
    assert hist[-1]["loss"] < hist[0]["loss"] and result["device"] in ("cpu", "cuda")
    assert ws_copy.catalog.workspace_models()["demo-ft"]["lineage"]["onnx_max_abs_diff"] < ONNX_ATOL


@pytest.mark.parametrize("base", [BASE, "mobilenet_v2"])
def test_stem_and_tail_compose_to_the_backbone(base):
    """Cached fine-tuning relies on tail(stem(x)) == backbone(x) for every built-in architecture."""
    from lookalike.embedders.registry import get_spec
    from lookalike.train.finetune_cached import split_backbone

    backbone = get_spec(base).build()
    stem, tail = split_backbone(backbone, 2)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(tail.eval()(stem(x)), backbone(x), atol=1e-5)
    assert not any(p.requires_grad for p in stem.parameters()) and all(p.requires_grad for p in tail.parameters())
    with pytest.raises(BadInput, match="--stages 2"):
        split_backbone(backbone, 0)


@pytest.mark.slow
def test_finetune_last_stages_on_cached_stem(ws_copy):
    """Mode 2 on a CPU: stem activations are cached once; the last stages + head learn; the export matches torch."""
    from lookalike.train.finetune import FinetuneConfig, train_finetune

    cfg = FinetuneConfig("demo-ftc", BASE, "category", train=FRUIT, stages=2, epochs=4, batch_size=16,
                         m_per_class=2, lr=3e-3, backbone_lr=1e-3, cache_views=2)
    result = train_finetune(ws_copy, cfg)
    hist = _history(ws_copy, "demo-ftc")
    assert hist[-1]["loss"] < hist[0]["loss"] and result["cache_seconds"] > 0
    spec = ws_copy.catalog.workspace_models()["demo-ftc"]
    assert spec["lineage"]["learner"] == "finetune-last-2-cached" and spec["lineage"]["onnx_max_abs_diff"] < ONNX_ATOL
    cached = list((ws_copy.model_dir / "_features").glob(f"{BASE}-stem2-*.npy"))
    assert len(cached) == 1 and np.load(cached[0], mmap_mode="r").shape[:2] == (56, 3)  # 56 Fruit images, 1 + 2 views
    again = train_finetune(ws_copy, FinetuneConfig(**{**cfg.__dict__, "name": "demo-ftc2"}))  # reuses the cache
    assert again["cache_seconds"] < result["cache_seconds"]
    with pytest.raises(BadInput, match="--mode last"):
        train_finetune(ws_copy, FinetuneConfig("demo-bad", BASE, stages=0, cache_views=2))


@pytest.mark.slow
def test_resume_after_kill(ws_copy):
    """A training process killed after a checkpoint resumes from that checkpoint's epoch."""
    ckpt = ws_copy.model_dir / "demo-resume" / "ckpt.pt"
    cmd = [sys.executable, "-m", "lookalike", "train", "metric", "-w", str(ws_copy.root), "--name", "demo-resume",
           "--base", BASE, "--views", "0", "--epochs", "100000", "--batch-size", "32", "--m-per-class", "2",
           "--patience", "100000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    try:
        deadline = time.time() + 120
        while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert ckpt.exists(), "the training process wrote no checkpoint"
    done = torch.load(ckpt, weights_only=False)["epoch"]
    assert done >= 1
    result = train_head(ws_copy, _head_cfg("demo-resume", lr=1e-3, batch_size=32, epochs=done + 2, patience=100000))
    assert result["resumed_from"] == done and result["epochs"] == done + 2
    assert [r["epoch"] for r in _history(ws_copy, "demo-resume")] == list(range(1, done + 3))


def test_same_seed_same_metrics(ws_copy):
    """A fixed seed gives the same losses and recalls."""
    a = train_head(ws_copy, _head_cfg("demo-seed-a", epochs=2))
    b = train_head(ws_copy, _head_cfg("demo-seed-b", epochs=2))
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert strip(_history(ws_copy, "demo-seed-a")) == strip(_history(ws_copy, "demo-seed-b"))
    assert a["best"] == b["best"]


def _tiny_catalog(tmp_path: Path, demo_catalog: Path) -> Path:
    rows = list(csv.DictReader(open(demo_catalog)))
    picked = [r for r in rows if r["category"] in ("Juice", "Yoghurt")][:6] + [rows[0]]
    picked[-1] = {**picked[-1], "id": "lonely", "category": "Lonely"}
    out = tmp_path / "tiny.csv"
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows({**r, "image": str(demo_catalog.parent / r["image"])} for r in picked)
    return out


def test_bad_configs_get_clear_errors(ws_copy, tmp_path, demo_catalog):
    """Unknown column, a class with one example, too few classes for the sampler, bad augment, bad name."""
    with pytest.raises(BadInput, match="label column 'colour' not found.*category"):
        load_data(ws_copy, "colour")
    with pytest.raises(BadInput, match="needs at least 16.*--batch-size 6"):
        train_head(ws_copy, _head_cfg("demo-bad", labels="group"))
    with pytest.raises(BadInput, match="no training images match"):
        load_data(ws_copy, "product", "group=Sweets")
    with pytest.raises(BadInput, match="crop_scale"):
        Augment.parse("zoom=2")
    with pytest.raises(BadInput, match="built-in model"):
        train_head(ws_copy, _head_cfg(BASE))
    from lookalike.ingest import ingest
    from lookalike.workspace import Workspace

    ws = Workspace(tmp_path / "tiny")
    ingest(ws, _tiny_catalog(tmp_path, demo_catalog))
    with pytest.raises(BadInput, match="fewer than 2 training images.*'Lonely'"):
        load_data(ws, "category")
    # a classifier needs no pairs, so a one-image class is fine there
    done = train_head(ws, _head_cfg("tiny-cls", learner="classifier", labels="category", epochs=2, batch_size=8))
    assert done["name"] == "tiny-cls" and "tiny-cls" in ws.catalog.workspace_models()


def test_selections_use_the_eval_grammar(ws_copy):
    """--train/--val/--join accept the same expressions as lookalike eval: !=, several values, & (or ;)."""
    groups = {pid: m["group"] for pid, m in ws_copy.catalog.products().items()}
    fruit = load_data(ws_copy, "product", "group=Fruit")
    not_fruit = load_data(ws_copy, "product", "group!=Fruit")
    assert set(fruit.train.classes) == {p for p, g in groups.items() if g == "Fruit"}
    assert set(not_fruit.train.classes) == {p for p, g in groups.items() if g != "Fruit"}
    both = load_data(ws_copy, "product", "group=Fruit,Vegetables & category!=Apple; category!=Pear")
    assert set(both.train.classes) == {p for p, m in ws_copy.catalog.products().items()
                                       if m["group"] in ("Fruit", "Vegetables") and m["category"] not in ("Apple", "Pear")}
    with pytest.raises(BadInput, match="key=value or key!=value"):
        load_data(ws_copy, "product", "group")


def test_resume_with_other_settings_is_refused(ws_copy):
    """A checkpoint from a run with other hyper-parameters is not silently mixed in."""
    train_head(ws_copy, _head_cfg("demo-mix", epochs=1))
    with pytest.raises(BadInput, match="other settings.*--fresh"):
        train_head(ws_copy, _head_cfg("demo-mix", epochs=2, lr=0.1))
    assert train_head(ws_copy, _head_cfg("demo-mix", epochs=1, lr=0.1), fresh=True)["resumed_from"] == 0


def test_cli_lists_train_commands():
    """The train commands are registered on the CLI."""
    from typer.testing import CliRunner

    from lookalike.cli import app, load_commands

    res = CliRunner().invoke(load_commands(), ["train", "--help"])
    assert res.exit_code == 0
    for cmd in ("metric", "classifier", "autoencoder", "pca"):
        assert cmd in res.output
    assert app is not None
