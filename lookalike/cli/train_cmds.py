"""Training commands: lookalike train metric | classifier | autoencoder | pca."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from . import app
from .catalog_cmds import WorkspaceOpt, open_ws
from .progress import console, print_json, progress_bar

train_app = typer.Typer(help="Learn an embedder from this workspace's catalog; the result is a model like the "
                             "built-in ones (lookalike index --model NAME).", no_args_is_help=True)
app.add_typer(train_app, name="train")

NameOpt = typer.Option(..., "--name", "-n", help="Name of the trained model (used as --model NAME afterwards)")
BaseOpt = typer.Option("efficientnet_lite2", "--base", help="Backbone: a built-in model (lookalike models)")
LabelsOpt = typer.Option("product", "--labels", help="Label column; 'product' = product id; 'none' = unlabeled "
                         "(positives are augmented views of the same image)")
TrainOpt = typer.Option(None, "--train", help="Training images by metadata, e.g. 'split=train' or "
                        "'split=train & group!=Fruit' [all]")
ValOpt = typer.Option(None, "--val", help="Validation images (early stopping), e.g. 'split=val'")
JoinOpt = typer.Option(None, "--join", help="Images that join the training set, e.g. catalog shots 'domain=iconic'")
AugOpt = typer.Option(None, "--augment", help="crop_scale,hflip,vflip,jitter,hue,blur,perspective as NAME=VALUE "
                      "pairs, e.g. 'crop_scale=0.6,vflip=0.5'; 'none' switches all off")
FreshOpt = typer.Option(False, "--fresh", help="Ignore an existing checkpoint and start over")
JsonOpt = typer.Option(False, "--json", help="Print the result as JSON")


def _epoch_line(rec: dict) -> None:
    extras = "  ".join(f"{k} {v:.4f}" for k, v in rec.items() if "recall" in k or k == "val_loss")
    console.print(f"epoch {rec['epoch']:>3}  loss {rec['loss']:.4f}  {extras}  ({rec['seconds']:.0f}s)")


def _done(result: dict, as_json: bool, ws) -> None:
    if as_json:
        print_json(result)
        return
    console.print(f"[green]trained[/green] {result['name']} (version {result['version']}): best epoch "
                  f"{result.get('best_epoch', '-')}, {result.get('seconds', 0):.0f}s. "
                  f"Next: lookalike index --model {result['name']} -w {ws.root}")
    if result.get("curves"):
        console.print(f"curves: {result['curves']}")


@train_app.command("metric")
def metric(
    name: str = NameOpt, workspace: Optional[Path] = WorkspaceOpt, base: str = BaseOpt, labels: str = LabelsOpt,
    train: Optional[str] = TrainOpt, val: Optional[str] = ValOpt, join: Optional[str] = JoinOpt,
    loss: str = typer.Option("multi_similarity", help="multi_similarity, triplet, proxy_anchor, arcface, "
                             "normalized_softmax"),
    miner: str = typer.Option("multi_similarity", help="multi_similarity, semihard, hard, none"),
    margin: Optional[float] = typer.Option(None, help="Loss/miner margin [the loss's default]"),
    mode: str = typer.Option("head", help="head: projection head on cached features (fast on CPU); "
                             "last: fine-tune the last --stages of the backbone; full: fine-tune all of it"),
    stages: int = typer.Option(2, help="Backbone stages trained with --mode last"),
    dim: int = typer.Option(256, help="Embedding size"),
    hidden: int = typer.Option(0, help="Hidden layer of the head (0 = linear)"),
    views: int = typer.Option(4, help="Augmented views cached per image (--mode head)"),
    augment: Optional[str] = AugOpt,
    epochs: int = 20, batch_size: int = 128, m_per_class: int = 4,
    lr: float = typer.Option(1e-3, help="Learning rate of the head"),
    backbone_lr: float = typer.Option(1e-4, help="Learning rate of the backbone (--mode last/full)"),
    workers: int = typer.Option(min(8, os.cpu_count() or 1), help="Image-loading processes (--mode last/full)"),
    cache_views: int = typer.Option(-1, help="--mode last: cache the frozen stem's output for the image and this "
                                    "many augmented views, then train on the cache (-1: 4 on CPU, 0 on GPU; "
                                    "0: augment on the fly)"),
    seed: int = 0, patience: int = typer.Option(5, help="Stop after this many epochs without a better val Recall@1"),
    fresh: bool = FreshOpt, as_json: bool = JsonOpt,
) -> None:
    """Metric learning (pytorch-metric-learning losses, m-per-class batches); resumes from its checkpoint."""
    ws = open_ws(workspace)
    if mode == "head":
        from ..train.fit_head import HeadConfig, train_head

        cfg = HeadConfig(name, base, "metric", labels, train, val, join, loss, miner, margin, dim, hidden, epochs,
                         batch_size, m_per_class, lr, 1e-4, views, augment, seed, patience)
        with progress_bar(f"features {base} x{views + 1} views") as update:
            result = train_head(ws, cfg, progress=update, on_epoch=_epoch_line, fresh=fresh)
    elif mode in ("last", "full"):
        from ..train.finetune import FinetuneConfig, train_finetune

        cfg = FinetuneConfig(name, base, labels, train, val, join, loss, miner, margin, dim,
                             stages if mode == "last" else 0, epochs, batch_size, m_per_class, lr, backbone_lr,
                             augment=augment, seed=seed, patience=patience, workers=workers,
                             cache_views=cache_views)
        with progress_bar(f"stem activations {base}") as update:
            result = train_finetune(ws, cfg, on_epoch=_epoch_line, fresh=fresh, progress=update)
    else:
        from ..errors import BadInput

        raise BadInput(f"unknown --mode {mode!r}; use head, last or full")
    _done(result, as_json, ws)


@train_app.command("classifier")
def classifier(
    name: str = NameOpt, workspace: Optional[Path] = WorkspaceOpt, base: str = BaseOpt, labels: str = LabelsOpt,
    train: Optional[str] = TrainOpt, val: Optional[str] = ValOpt, join: Optional[str] = JoinOpt,
    dim: int = typer.Option(256, help="Embedding size (the penultimate layer)"),
    views: int = typer.Option(4, help="Augmented views cached per image"), augment: Optional[str] = AugOpt,
    epochs: int = 20, batch_size: int = 128, lr: float = 1e-3, seed: int = 0, patience: int = 5,
    fresh: bool = FreshOpt, as_json: bool = JsonOpt,
) -> None:
    """Cross-entropy classifier head on cached features; its penultimate layer is the embedding."""
    from ..train.fit_head import HeadConfig, train_head

    ws = open_ws(workspace)
    cfg = HeadConfig(name, base, "classifier", labels, train, val, join, "cross_entropy", "none", None, dim, 0,
                     epochs, batch_size, 1, lr, 1e-4, views, augment, seed, patience)
    with progress_bar(f"features {base} x{views + 1} views") as update:
        result = train_head(ws, cfg, progress=update, on_epoch=_epoch_line, fresh=fresh)
    _done(result, as_json, ws)


@train_app.command("autoencoder")
def autoencoder(
    name: str = NameOpt, workspace: Optional[Path] = WorkspaceOpt,
    variational: bool = typer.Option(False, "--variational", help="Train a VAE (its mean is the embedding)"),
    size: int = typer.Option(128, help="Input size (multiple of 16)"), dim: int = typer.Option(128, help="Latent size"),
    labels: str = typer.Option("none", help="Label column used only for validation Recall@1"),
    train: Optional[str] = TrainOpt, val: Optional[str] = ValOpt,
    epochs: int = 20, batch_size: int = 64, lr: float = 2e-3, beta: float = typer.Option(1.0, help="VAE KL weight"),
    seed: int = 0, patience: int = 5, fresh: bool = FreshOpt, as_json: bool = JsonOpt,
) -> None:
    """Convolutional autoencoder or VAE on the catalog images; the latent is the embedding."""
    from ..train.autoencoder import AutoencoderConfig, train_autoencoder

    ws = open_ws(workspace)
    cfg = AutoencoderConfig(name, variational, size, dim, labels, train, val, epochs, batch_size, lr, beta, seed,
                            patience)
    with progress_bar("load images") as update:
        result = train_autoencoder(ws, cfg, progress=update, on_epoch=_epoch_line, fresh=fresh)
    _done(result, as_json, ws)


@train_app.command("pca")
def pca(
    name: str = NameOpt, workspace: Optional[Path] = WorkspaceOpt, base: str = BaseOpt,
    dim: int = typer.Option(256, help="Components kept"), whiten: bool = typer.Option(False, "--whiten"),
    fit: Optional[str] = typer.Option(None, "--fit", help="Images to fit on, e.g. 'split=train' [all]"),
    as_json: bool = JsonOpt,
) -> None:
    """PCA (optionally whitening) of the base model's catalog embeddings, appended to its ONNX graph."""
    from ..train.pca import PcaConfig, train_pca

    ws = open_ws(workspace)
    result = train_pca(ws, PcaConfig(name, base, dim, whiten, fit))
    if as_json:
        print_json(result)
        return
    console.print(f"[green]fitted[/green] {name}: {dim} components keep {result['explained_variance']:.1%} of the "
                  f"variance ({result['n_fit']} images). Next: lookalike index --model {name} -w {ws.root}")
