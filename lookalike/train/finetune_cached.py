"""Mode 2 on a CPU: fine-tune the last stages of the backbone on cached activations of its frozen stem.

The frozen stem (everything before the trained stages) does most of the arithmetic, and its output never changes
during training. So it runs once, through ONNX Runtime, over the plain image and K seeded augmented views of every
training image; epochs then run only the last stages and the head, on those stored activations (float16).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict

import numpy as np

from ..errors import BadInput
from ..workspace import Workspace
from .data import Augment, Samples
from .features import cache_key, cache_path, compute_features


def split_backbone(backbone, stages: int):
    """(stem, tail): stem = the frozen stages as one module, tail = the last `stages` stages plus pooling.

    tail(stem(x)) equals backbone(x): the same modules, in the same order, then global average pooling.
    """
    import torch
    from torch import nn
    from torch.nn import functional as F

    from .finetune import backbone_stages

    parts = backbone_stages(backbone)
    if not 0 < stages < len(parts):
        raise BadInput(f"cached fine-tuning trains 1 to {len(parts) - 1} stages, not {stages}; "
                       "use --stages 2, or --cache-views 0 to fine-tune without a cache")
    stem = nn.Sequential(*[m for part in parts[:-stages] for m in part]).eval()
    for p in stem.parameters():
        p.requires_grad_(False)

    class Tail(nn.Module):
        def __init__(self, mods):
            super().__init__()
            self.mods = nn.ModuleList(mods)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for m in self.mods:
                x = m(x)
            return F.adaptive_avg_pool2d(x, 1).flatten(1)

    return stem, Tail([m for part in parts[-stages:] for m in part])


def stem_activations(ws: Workspace, base: str, stem, preprocess, stages: int, samples: Samples, views: int,
                     augment: Augment, seed: int, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """n x (1 + views) x C x H x W float16 stem outputs, computed once with ONNX Runtime and kept in the workspace."""
    import onnxruntime as ort
    import torch

    from ..embedders.onnx_runtime import export_onnx

    tag = f"{base}-stem{stages}"
    version = ws.embedder(base).version
    path = cache_path(ws, tag, cache_key(tag, version, samples.image_ids, views, augment, seed))
    with torch.no_grad():
        shape = tuple(stem(torch.zeros(1, 3, preprocess.size, preprocess.size)).shape[1:])
    if path.exists():
        acts = np.load(path, mmap_mode="r")
        if acts.shape == (len(samples), views + 1, *shape):
            return acts
    onnx = path.with_suffix(".onnx")
    export_onnx(stem, preprocess.size, onnx)
    opts = ort.SessionOptions()
    session = ort.InferenceSession(str(onnx), opts, providers=["CPUExecutionProvider"])

    def run(batch: np.ndarray) -> np.ndarray:
        return session.run(None, {"pixels": batch.astype(np.float32)})[0].astype(np.float16)

    flat = compute_features(samples, preprocess, run, views, augment, seed, progress=progress)
    acts = flat.astype(np.float16).reshape(len(samples), views + 1, *shape)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, acts)
    tmp.replace(path)
    onnx.unlink(missing_ok=True)
    return acts


def train_cached(ws: Workspace, cfg, progress: Callable[[int, int], None] | None = None,
                 on_epoch: Callable[[dict], None] | None = None, fresh: bool = False) -> dict:
    """Train the last cfg.stages stages + head on cached stem activations; export the whole model and register."""
    import torch
    from torch.nn import functional as F

    from .export import export_torch
    from .finetune import prepare
    from .fit_head import val_recall
    from .heads import EmbeddingNet
    from .loop import Trainer
    from .metric import labeled_batches, metric_loss
    from .viz import draw_curves

    data, spec, backbone, head, loss, miner, opt = prepare(ws, cfg)
    stem, tail = split_backbone(backbone, cfg.stages)
    t0 = time.perf_counter()
    augment = Augment.parse(cfg.augment)
    acts = stem_activations(ws, cfg.base, stem, spec.preprocess, cfg.stages, data.train, cfg.cache_views, augment,
                            cfg.seed, progress)
    val_acts = (stem_activations(ws, cfg.base, stem, spec.preprocess, cfg.stages, data.val, 0, augment, cfg.seed)
                if data.val is not None else None)
    cache_seconds = time.perf_counter() - t0
    net = EmbeddingNet(tail, head)
    opt.add_param_group({"params": list(tail.parameters()), "lr": cfg.backbone_lr})
    trainer = Trainer(ws.model_dir / cfg.name, {"net": net, "loss": loss}, opt, asdict(cfg), cfg.seed,
                      patience=cfg.patience, fresh=fresh, on_epoch=on_epoch)
    rng = trainer.rng

    def epoch(_: int) -> float:
        net.train()
        total, batches = 0.0, list(labeled_batches(data.train.labels, cfg.m_per_class, cfg.batch_size,
                                                      len(data.train)))
        for batch in batches:
            view = rng.integers(0, acts.shape[1], len(batch))
            x = torch.from_numpy(np.asarray(acts[batch, view], dtype=np.float32))
            y = torch.from_numpy(data.train.labels[batch].astype(np.int64))
            emb = net(x)
            value = metric_loss(loss, miner, emb, y)
            opt.zero_grad()
            value.backward()
            opt.step()
            total += float(value.detach())
        return total / max(len(batches), 1)

    def embed(a: np.ndarray) -> np.ndarray:
        net.eval()
        with torch.no_grad():
            return np.concatenate([F.normalize(net(torch.from_numpy(np.asarray(a[i : i + 128, 0], np.float32))),
                                               dim=1).numpy() for i in range(0, len(a), 128)])

    def validate() -> dict:
        if val_acts is None:
            return {}
        ident = lambda v: v  # noqa: E731  (already embedded)
        return val_recall(ident, embed(val_acts), data.val.labels, embed(acts), data.train.labels)

    summary = trainer.fit(cfg.epochs, epoch, validate)
    lineage = {"learner": f"finetune-last-{cfg.stages}-cached", "base": cfg.base, "data": data.describe,
               "hyper": asdict(cfg), "seed": cfg.seed,
               "metrics": {**summary, "device": "cpu", "cache_seconds": round(cache_seconds, 2),
                           "wall_seconds": round(time.perf_counter() - t0, 2)}}
    model_spec = export_torch(ws, cfg.name, EmbeddingNet(backbone, head).eval(), spec.preprocess, cfg.base, lineage)
    curves = draw_curves(trainer.run_dir)
    return {"name": cfg.name, "version": model_spec["version"], "device": "cpu",
            "cache_seconds": round(cache_seconds, 2), "curves": str(curves) if curves else None, **summary}
