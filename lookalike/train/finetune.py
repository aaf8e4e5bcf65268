"""Modes 2 and 3: fine-tune the last stages of the backbone (or all of it, with mixed precision on a GPU) plus a head."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np

from .. import images
from ..errors import BadInput
from ..workspace import Workspace
from .data import Augment, Samples, load_data


@dataclass
class FinetuneConfig:
    """A fine-tuning run; stages=0 trains the whole backbone (mode 3), N>0 only its last N stages (mode 2)."""

    name: str
    base: str = "efficientnet_lite2"
    labels: str = "product"
    train: str | None = None
    val: str | None = None
    join: str | None = None
    loss: str = "multi_similarity"
    miner: str = "multi_similarity"
    margin: float | None = None
    dim: int = 256
    stages: int = 2
    epochs: int = 10
    batch_size: int = 64
    m_per_class: int = 4
    lr: float = 1e-3
    backbone_lr: float = 1e-4
    weight_decay: float = 1e-4
    augment: str | None = None
    seed: int = 0
    patience: int = 3
    workers: int = 2
    cache_views: int = -1  # mode 2: cache the frozen stem's output for K augmented views; -1 = 4 on CPU, 0 on GPU


def backbone_stages(backbone) -> list:
    """The backbone as an ordered list of stages (stem ... last conv), for freezing all but the last few."""
    if hasattr(backbone, "blocks") and hasattr(backbone, "conv_head"):  # timm EfficientNet family
        return [[backbone.conv_stem, backbone.bn1], *[[b] for b in backbone.blocks], [backbone.conv_head, backbone.bn2]]
    if hasattr(backbone, "features"):  # torchvision MobileNet
        return [[m] for m in backbone.features]
    raise BadInput(f"cannot split {type(backbone).__name__} into stages; use --stages 0 (full fine-tune)")


def freeze_all_but(backbone, stages: int) -> list:
    """Freeze the backbone except its last `stages` stages (0 = train everything); returns the frozen modules."""
    if stages == 0:
        return []
    parts = backbone_stages(backbone)
    if stages > len(parts):
        raise BadInput(f"--stages {stages} exceeds the {len(parts)} stages of the backbone; use 0 for all")
    frozen = [m for part in parts[: len(parts) - stages] for m in part]
    for m in frozen:
        for p in m.parameters():
            p.requires_grad_(False)
    return frozen


class ImageSet:
    """Loads, augments and preprocesses training images on the fly (torch Dataset protocol)."""

    def __init__(self, samples: Samples, preprocess, augment: Augment | None):
        self.samples, self.pre = samples, preprocess
        self.tf = augment.transform(int(round(preprocess.size / preprocess.crop_pct))) if augment else None

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        img = images.load(self.samples.paths[i])
        return self.pre(self.tf(img) if self.tf else img), int(self.samples.labels[i])


def _loader(dataset, batches, workers: int):
    import torch

    return torch.utils.data.DataLoader(dataset, batch_sampler=batches, num_workers=workers,
                                       persistent_workers=False, pin_memory=torch.cuda.is_available())


def _embed_all(net, samples: Samples, pre, device, workers: int) -> np.ndarray:
    import torch
    from torch.nn import functional as F

    ds = ImageSet(samples, pre, None)
    batches = [list(range(i, min(i + 64, len(ds)))) for i in range(0, len(ds), 64)]
    out = []
    net.eval()
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        for x, _ in _loader(ds, batches, workers):
            out.append(F.normalize(net(x.to(device)).float(), dim=1).cpu().numpy())
    return np.concatenate(out)


def prepare(ws: Workspace, cfg: FinetuneConfig):
    """What both fine-tuning paths start from: checked data, the base spec, a fresh backbone, head, loss, optimizer."""
    from ..embedders.registry import get_spec
    from .export import check_name
    from .fit_head import HeadConfig, _build
    from .metric import check_sampler

    check_name(cfg.name)
    data = load_data(ws, cfg.labels, cfg.train, cfg.val, cfg.join)
    check_sampler(data.train.labels, cfg.m_per_class, cfg.batch_size)
    spec = get_spec(cfg.base)
    hcfg = HeadConfig(cfg.name, cfg.base, "metric", loss=cfg.loss, miner=cfg.miner, margin=cfg.margin, dim=cfg.dim,
                      lr=cfg.lr, weight_decay=cfg.weight_decay)
    head, loss, miner, opt = _build(hcfg, spec.dim, len(data.train.classes))
    return data, spec, spec.build(), head, loss, miner, opt


def train_finetune(ws: Workspace, cfg: FinetuneConfig, on_epoch: Callable[[dict], None] | None = None,
                   fresh: bool = False, progress: Callable[[int, int], None] | None = None) -> dict:
    """Fine-tune, keep the best epoch by validation Recall@1, export and register.

    On a CPU, mode 2 (stages > 0) trains on cached stem activations (finetune_cached), which pays off there
    because the frozen stem is most of the arithmetic; on a GPU, and with cache_views=0, images are augmented
    and run through the whole network every epoch.
    """
    import torch

    if cfg.cache_views < 0:
        cfg = replace(cfg, cache_views=4 if cfg.stages > 0 and not torch.cuda.is_available() else 0)
    if cfg.cache_views > 0:
        if cfg.stages == 0:
            raise BadInput("--cache-views needs --mode last (a full fine-tune has no frozen stem to cache)")
        from .finetune_cached import train_cached

        return train_cached(ws, cfg, progress=progress, on_epoch=on_epoch, fresh=fresh)

    from .export import export_torch
    from .heads import EmbeddingNet
    from .loop import Trainer
    from .metric import labeled_batches, metric_loss
    from .viz import draw_curves

    data, spec, backbone, head, loss, miner, opt = prepare(ws, cfg)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    frozen = freeze_all_but(backbone, cfg.stages)
    net = EmbeddingNet(backbone, head).to(device)
    loss.to(device)
    opt.add_param_group({"params": [p for p in backbone.parameters() if p.requires_grad], "lr": cfg.backbone_lr})
    trainer = Trainer(ws.model_dir / cfg.name, {"net": net, "loss": loss}, opt, asdict(cfg), cfg.seed,
                      patience=cfg.patience, fresh=fresh, on_epoch=on_epoch)
    train_set = ImageSet(data.train, spec.preprocess, Augment.parse(cfg.augment))

    def epoch(_: int) -> float:
        for m in frozen:  # frozen stages keep their BatchNorm statistics
            m.eval()
        batches = [b.tolist() for b in labeled_batches(data.train.labels, cfg.m_per_class, cfg.batch_size,
                                                       len(data.train))]
        total = 0.0
        for x, y in _loader(train_set, batches, cfg.workers):
            x, y = x.to(device, non_blocking=True), y.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                emb = net(x).float()
            value = metric_loss(loss, miner, emb, y)
            opt.zero_grad()
            value.backward()
            opt.step()
            total += float(value.detach())
        return total / max(len(batches), 1)

    def validate() -> dict:
        if data.val is None:
            return {}
        from .fit_head import val_recall

        ident = lambda v: v  # noqa: E731  (vectors are already embedded)
        q = _embed_all(net, data.val, spec.preprocess, device, cfg.workers)
        g = _embed_all(net, data.train, spec.preprocess, device, cfg.workers)
        return val_recall(ident, q, data.val.labels, g, data.train.labels)

    t0 = time.perf_counter()
    summary = trainer.fit(cfg.epochs, epoch, validate)
    lineage = {"learner": "finetune" if cfg.stages == 0 else f"finetune-last-{cfg.stages}", "base": cfg.base,
               "data": data.describe, "hyper": asdict(cfg), "seed": cfg.seed,
               "metrics": {**summary, "device": str(device), "wall_seconds": round(time.perf_counter() - t0, 2)}}
    model_spec = export_torch(ws, cfg.name, net.float().cpu(), spec.preprocess, cfg.base, lineage)
    curves = draw_curves(trainer.run_dir)
    return {"name": cfg.name, "version": model_spec["version"], "device": str(device),
            "curves": str(curves) if curves else None, **summary}
