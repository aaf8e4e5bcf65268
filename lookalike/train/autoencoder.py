"""A convolutional autoencoder and a VAE trained on catalog images; the latent (the VAE's mean) is the embedding."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from itertools import pairwise

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .. import images
from ..embedders.preprocess import Preprocess
from ..errors import BadInput
from ..workspace import Workspace
from .data import NO_LABELS, Samples, load_data

WIDTHS = (32, 64, 128, 256)


@dataclass
class AutoencoderConfig:
    """An autoencoder run."""

    name: str
    variational: bool = False
    size: int = 128
    dim: int = 128
    labels: str = NO_LABELS  # a label column only adds validation recall; training never sees labels
    train: str | None = None
    val: str | None = None
    epochs: int = 20
    batch_size: int = 64
    lr: float = 2e-3
    beta: float = 1.0  # weight of the VAE's KL term
    seed: int = 0
    patience: int = 5


class Encoder(nn.Module):
    """Strided convolutions to a flat latent; a VAE encoder also predicts a log-variance."""

    def __init__(self, size: int, dim: int, variational: bool):
        super().__init__()
        layers, c = [], 3
        for w in WIDTHS:
            layers += [nn.Conv2d(c, w, 4, 2, 1), nn.BatchNorm2d(w), nn.LeakyReLU(0.2, inplace=True)]
            c = w
        self.conv = nn.Sequential(*layers)
        flat = c * (size // 16) ** 2
        self.mu = nn.Linear(flat, dim)
        self.logvar = nn.Linear(flat, dim) if variational else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The embedding: the latent code (the mean for a VAE)."""
        return self.mu(self.conv(x).flatten(1))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(mean, log-variance or None)."""
        h = self.conv(x).flatten(1)
        return self.mu(h), self.logvar(h) if self.logvar is not None else None


class Decoder(nn.Module):
    """Transposed convolutions from the latent back to an image in [-1, 1]."""

    def __init__(self, size: int, dim: int):
        super().__init__()
        self.side = size // 16
        self.fc = nn.Linear(dim, WIDTHS[-1] * self.side**2)
        layers = []
        widths = list(reversed(WIDTHS))
        for a, b in pairwise(widths):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]
        layers += [nn.ConvTranspose2d(widths[-1], 3, 4, 2, 1), nn.Tanh()]
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(z).view(len(z), WIDTHS[-1], self.side, self.side))


def ae_loss(enc: Encoder, dec: Decoder, x: torch.Tensor, beta: float) -> torch.Tensor:
    """Reconstruction MSE (per pixel), plus beta x KL divided by pixels per image for a VAE."""
    mu, logvar = enc.encode(x)
    if logvar is None:
        return F.mse_loss(dec(mu), x)
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    kl = -0.5 * torch.mean(torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=1))
    return F.mse_loss(dec(z), x) + beta * kl / x[0].numel()


def preprocess_for(size: int) -> Preprocess:
    """The autoencoder's input: the centre square (short side resized to size) scaled to [-1, 1]."""
    if size < 32 or size % 16:
        raise BadInput(f"--size {size} must be a multiple of 16, at least 32 (e.g. 64, 128)")
    return Preprocess(size=size, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), crop_pct=1.0, interpolation="bilinear")


def load_pixels(samples: Samples, pre: Preprocess, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """All images preprocessed once into an n x 3 x S x S float16 array."""
    out = np.zeros((len(samples), 3, pre.size, pre.size), dtype=np.float16)
    for i, path in enumerate(samples.paths):
        out[i] = pre(images.load(path))
        if progress and (i % 64 == 63 or i == len(samples) - 1):
            progress(i + 1, len(samples))
    return out


def train_autoencoder(ws: Workspace, cfg: AutoencoderConfig, progress=None, on_epoch=None, fresh: bool = False) -> dict:
    """Train, keep the best epoch (validation recall when labels are given, else validation loss), export."""
    from .export import check_name, export_torch
    from .fit_head import head_embed, val_recall
    from .loop import Trainer
    from .viz import draw_curves

    check_name(cfg.name)
    pre = preprocess_for(cfg.size)
    data = load_data(ws, cfg.labels, cfg.train, cfg.val, None, min_per_class=1)
    t0 = time.perf_counter()
    pixels = load_pixels(data.train, pre, progress)
    val_pixels = load_pixels(data.val, pre) if data.val is not None else pixels[: min(len(pixels), 256)]
    load_seconds = time.perf_counter() - t0
    torch.manual_seed(cfg.seed)
    enc, dec = Encoder(cfg.size, cfg.dim, cfg.variational), Decoder(cfg.size, cfg.dim)
    opt = torch.optim.AdamW([*enc.parameters(), *dec.parameters()], lr=cfg.lr, weight_decay=1e-5)
    labeled = cfg.labels != NO_LABELS and data.val is not None
    trainer = Trainer(ws.model_dir / cfg.name, {"encoder": enc, "decoder": dec}, opt, asdict(cfg), cfg.seed,
                      monitor="val_recall@1" if labeled else "neg_val_loss", patience=cfg.patience, fresh=fresh,
                      on_epoch=on_epoch)

    def epoch(_: int) -> float:
        order, total = trainer.rng.permutation(len(pixels)), 0.0
        steps = range(0, len(order) - cfg.batch_size + 1, cfg.batch_size) if len(order) >= cfg.batch_size else [0]
        for i in steps:
            x = torch.from_numpy(pixels[order[i : i + cfg.batch_size]].astype(np.float32))
            flip = torch.from_numpy(trainer.rng.random(len(x)) < 0.5)
            x[flip] = x[flip].flip(-1)
            loss = ae_loss(enc, dec, x, cfg.beta)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
        return total / len(steps)

    def embed(px: np.ndarray) -> np.ndarray:
        return head_embed(enc)(px.astype(np.float32))

    def validate() -> dict:
        with torch.no_grad():
            x = torch.from_numpy(val_pixels[:256].astype(np.float32))
            rec = {"val_loss": round(float(F.mse_loss(dec(enc(x)), x)), 6)}
        rec["neg_val_loss"] = -rec["val_loss"]
        if labeled:
            rec.update(val_recall(embed, val_pixels, data.val.labels, pixels, data.train.labels))
        return rec

    summary = trainer.fit(cfg.epochs, epoch, validate)
    kind = "vae" if cfg.variational else "autoencoder"
    lineage = {"learner": kind, "base": None, "data": data.describe, "hyper": asdict(cfg), "seed": cfg.seed,
               "metrics": {**summary, "load_seconds": round(load_seconds, 2)}}
    spec = export_torch(ws, cfg.name, enc, pre, kind, lineage)
    curves = draw_curves(trainer.run_dir)
    return {"name": cfg.name, "version": spec["version"], "curves": str(curves) if curves else None, **summary}
