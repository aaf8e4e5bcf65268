"""Mode 1: train a head (metric or classifier) on cached features of a frozen backbone, then export backbone + head."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import BadInput
from ..workspace import Workspace
from .data import NO_LABELS, Augment, load_data
from .features import cached_features


@dataclass
class HeadConfig:
    """Everything that defines a head-training run (stored in the checkpoint and the model's lineage)."""

    name: str
    base: str = "efficientnet_lite2"
    learner: str = "metric"  # metric | classifier
    labels: str = "product"
    train: str | None = None
    val: str | None = None
    join: str | None = None
    loss: str = "multi_similarity"
    miner: str = "multi_similarity"
    margin: float | None = None
    dim: int = 256
    hidden: int = 0
    epochs: int = 20
    batch_size: int = 128
    m_per_class: int = 4
    lr: float = 1e-3
    weight_decay: float = 1e-4
    views: int = 0
    augment: str | None = None
    seed: int = 0
    patience: int = 5


def val_recall(embed: Callable[[np.ndarray], np.ndarray], q: np.ndarray, qy: np.ndarray, g: np.ndarray,
               gy: np.ndarray, prefix: str = "val") -> dict:
    """Recall@1/5 of query features against gallery features after `embed`."""
    from ..evaluate import knn_recall

    r = knn_recall(embed(q), qy, embed(g), gy, ks=(1, 5))
    return {f"{prefix}_recall@{k}": round(float(v), 5) for k, v in r.items()}


def head_embed(head) -> Callable[[np.ndarray], np.ndarray]:
    """Features -> L2-normalised head outputs, in eval mode, in chunks."""
    import torch
    from torch.nn import functional as F

    def run(x: np.ndarray) -> np.ndarray:
        head.eval()
        with torch.no_grad():
            parts = [F.normalize(head(torch.from_numpy(x[i : i + 4096])), dim=1) for i in range(0, len(x), 4096)]
        return torch.cat(parts).numpy()

    return run


def _build(cfg: HeadConfig, in_dim: int, n_classes: int):
    import torch

    from .heads import ClassifierHead, ProjectionHead
    from .metric import make_loss, make_miner

    if cfg.learner == "classifier":
        head = ClassifierHead(in_dim, n_classes, cfg.dim)
        loss, miner = torch.nn.CrossEntropyLoss(), None
    else:
        head = ProjectionHead(in_dim, cfg.dim, cfg.hidden)
        loss, miner = make_loss(cfg.loss, n_classes, cfg.dim, cfg.margin), make_miner(cfg.miner, cfg.margin)
    groups = [{"params": head.parameters(), "lr": cfg.lr}]
    if list(loss.parameters()):  # class proxies learn faster than the head
        groups.append({"params": loss.parameters(), "lr": cfg.lr * 100})
    opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    return head, loss, miner, opt


def train_head(ws: Workspace, cfg: HeadConfig, progress: Callable[[int, int], None] | None = None,
               on_epoch: Callable[[dict], None] | None = None, fresh: bool = False) -> dict:
    """Train, keep the best epoch by validation Recall@1, export to ONNX and register as cfg.name."""
    from .export import check_name

    check_name(cfg.name)
    unlabeled = cfg.labels == NO_LABELS
    if unlabeled and cfg.views < 1:
        raise BadInput("--labels none learns from augmented views: add --views 2 (or more)")
    if cfg.learner == "classifier" and unlabeled:
        raise BadInput("a classifier needs labels: pass --labels COLUMN")
    data = load_data(ws, cfg.labels, cfg.train, cfg.val, cfg.join,
                     min_per_class=1 if cfg.learner == "classifier" else 2)  # cross-entropy needs no pairs
    if cfg.learner == "metric" and not unlabeled:
        from .metric import check_sampler

        check_sampler(data.train.labels, cfg.m_per_class, cfg.batch_size)
    t0 = time.perf_counter()
    feats = cached_features(ws, cfg.base, data.train, cfg.views, Augment.parse(cfg.augment), cfg.seed, progress=progress)
    val_feats = cached_features(ws, cfg.base, data.val, 0) if data.val is not None else None
    feature_seconds = time.perf_counter() - t0
    head, loss, miner, opt = _build(cfg, feats.shape[-1], len(data.train.classes))
    from .loop import Trainer

    trainer = Trainer(ws.model_dir / cfg.name, {"head": head, "loss": loss}, opt, asdict(cfg), cfg.seed,
                      patience=cfg.patience, fresh=fresh, on_epoch=on_epoch)
    step = _epoch_fn(cfg, head, loss, miner, opt, feats, data.train.labels, trainer.rng, unlabeled)
    embed = head_embed(head)
    validate = _validator(embed, feats, data, val_feats, unlabeled)
    trainer.monitor = next(iter(validate()))  # the first key: recall@1 of whichever check applies
    summary = trainer.fit(cfg.epochs, step, validate)
    return _finish(ws, cfg, head, data.describe, summary, feature_seconds, trainer)


def _validator(embed, feats, data, val_feats, unlabeled) -> Callable[[], dict]:
    """Val photos against train photos; without a val split, leave-one-out on train (or augmented views)."""
    from ..evaluate import knn_recall

    if unlabeled:
        ids = np.arange(len(feats))
        return lambda: val_recall(embed, feats[:, -1], ids, feats[:, 0], ids, "aug")
    if val_feats is not None:
        return lambda: val_recall(embed, val_feats[:, 0], data.val.labels, feats[:, 0], data.train.labels)

    def loo() -> dict:
        e = embed(feats[:, 0])
        r = knn_recall(e, data.train.labels, e, data.train.labels, ks=(1, 5), exclude_self=True)
        return {f"train_loo_recall@{k}": round(float(v), 5) for k, v in r.items()}

    return loo


def _epoch_fn(cfg, head, loss, miner, opt, feats, labels, rng, unlabeled) -> Callable[[int], float]:
    from .metric import epoch_batches, metric_loss, metric_step_data

    def run(epoch: int) -> float:
        total, n = 0.0, 0
        if cfg.learner == "classifier":  # cross-entropy needs no pairs: plain shuffled batches
            order = rng.permutation(len(labels))
            batches = [order[i : i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
        else:
            batches = epoch_batches(labels, unlabeled, cfg.m_per_class, cfg.batch_size, rng)
        for batch in batches:
            x, y = metric_step_data(feats, labels, batch, rng, unlabeled)
            if cfg.learner == "classifier":
                value = loss(head.logits(x), y)
            else:
                emb = head(x)
                value = metric_loss(loss, miner, emb, y)
            opt.zero_grad()
            value.backward()
            opt.step()
            total, n = total + float(value.detach()), n + 1
        return total / max(n, 1)

    return run


def _finish(ws, cfg, head, data_desc, summary, feature_seconds, trainer) -> dict:
    from ..embedders.registry import get_spec
    from .export import export_torch
    from .heads import EmbeddingNet
    from .viz import draw_curves

    spec = get_spec(cfg.base)
    lineage = {"learner": f"head-{cfg.learner}", "base": cfg.base, "data": data_desc, "hyper": asdict(cfg),
               "seed": cfg.seed, "metrics": {**summary, "feature_seconds": round(feature_seconds, 2),
                                             "history": trainer.history[-1:] if trainer.history else []}}
    model_spec = export_torch(ws, cfg.name, EmbeddingNet(spec.build(), head), spec.preprocess, cfg.base, lineage)
    curves = draw_curves(trainer.run_dir)
    return {"name": cfg.name, "version": model_spec["version"], "curves": str(curves) if curves else None,
            "feature_seconds": round(feature_seconds, 2), **summary}
