"""Metric learning on cached features with pytorch-metric-learning losses, miners and the m-per-class sampler."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..errors import BadInput

LOSSES = ("multi_similarity", "triplet", "proxy_anchor", "arcface", "normalized_softmax")
MINERS = ("multi_similarity", "semihard", "hard", "none")
#: losses that hold learnable class proxies / weights
PROXY_LOSSES = {"proxy_anchor", "arcface", "normalized_softmax"}


def make_loss(name: str, n_classes: int, dim: int, margin: float | None = None):
    """A pytorch-metric-learning loss by name."""
    from pytorch_metric_learning import losses

    if name == "multi_similarity":
        return losses.MultiSimilarityLoss(alpha=2, beta=50, base=0.5)
    if name == "triplet":
        return losses.TripletMarginLoss(margin=0.1 if margin is None else margin)
    if name == "proxy_anchor":
        return losses.ProxyAnchorLoss(n_classes, dim, margin=0.1 if margin is None else margin, alpha=32)
    if name == "arcface":
        return losses.ArcFaceLoss(n_classes, dim, margin=28.6 if margin is None else margin, scale=64)
    if name == "normalized_softmax":
        return losses.NormalizedSoftmaxLoss(n_classes, dim, temperature=0.05)
    raise BadInput(f"unknown loss {name!r}; choose from: {', '.join(LOSSES)}")


def make_miner(name: str, margin: float | None = None):
    """A pytorch-metric-learning miner by name, or None."""
    from pytorch_metric_learning import miners

    if name == "none":
        return None
    if name == "multi_similarity":
        return miners.MultiSimilarityMiner(epsilon=0.1)
    if name in ("semihard", "hard"):
        return miners.TripletMarginMiner(margin=0.1 if margin is None else margin, type_of_triplets=name)
    raise BadInput(f"unknown miner {name!r}; choose from: {', '.join(MINERS)}")


def check_sampler(labels: np.ndarray, m: int, batch_size: int) -> None:
    """Clear errors for batch settings the m-per-class sampler cannot meet."""
    n_classes = len(np.unique(labels))
    if m < 1 or batch_size % m:
        raise BadInput(f"--batch-size {batch_size} must be a multiple of --m-per-class {m}")
    if n_classes * m < batch_size:
        raise BadInput(
            f"the training set has {n_classes} classes; a batch of {batch_size} with {m} per class needs at least "
            f"{batch_size // m}. Use --batch-size {n_classes * m} or less, or a label column with more classes"
        )


def metric_loss(loss, miner, emb, labels):
    """A pytorch-metric-learning loss on one batch, on the miner's tuples when there is a miner."""
    return loss(emb, labels, miner(emb, labels)) if miner is not None else loss(emb, labels)


def labeled_batches(labels: np.ndarray, m: int, batch_size: int, per_epoch: int) -> Iterator[np.ndarray]:
    """Index batches with m images of each of batch_size/m classes (a fresh sampler per epoch, for resume)."""
    from pytorch_metric_learning.samplers import MPerClassSampler

    sampler = MPerClassSampler(labels, m, batch_size=batch_size, length_before_new_iter=max(per_epoch, batch_size))
    order = np.fromiter(iter(sampler), dtype=np.int64)
    for i in range(0, len(order) - batch_size + 1, batch_size):
        yield order[i : i + batch_size]


def metric_step_data(feats: np.ndarray, labels: np.ndarray, batch: np.ndarray, rng: np.random.Generator,
                     unlabeled: bool):
    """(inputs, labels) of one batch: labeled mode draws one random view per image, unlabeled mode two views."""
    import torch

    n_views = feats.shape[1]
    if unlabeled:
        first = rng.integers(0, n_views, len(batch))
        second = (first + rng.integers(1, max(n_views, 2), len(batch))) % n_views
        x = np.concatenate([feats[batch, first], feats[batch, second]])
        y = np.concatenate([batch, batch])
    else:
        x = feats[batch, rng.integers(0, n_views, len(batch))]
        y = labels[batch]
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.asarray(y, dtype=np.int64))


def epoch_batches(labels: np.ndarray, unlabeled: bool, m: int, batch_size: int, rng: np.random.Generator):
    """One epoch of index batches covering about every training image once."""
    if unlabeled:
        order = rng.permutation(len(labels))
        half = max(2, batch_size // 2)
        return [order[i : i + half] for i in range(0, len(order) - half + 1, half)] or [order]
    return list(labeled_batches(labels, m, batch_size, len(labels)))
