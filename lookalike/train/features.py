"""Cached backbone features: view 0 is the plain image, views 1..K are augmented copies (seeded per image)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import images
from ..errors import BadImage
from ..workspace import Workspace
from .data import Augment, Samples


def cache_key(base: str, version: str, image_ids: np.ndarray, views: int, augment: Augment, seed: int) -> str:
    """A short hash naming one feature cache."""
    h = hashlib.sha256(json.dumps([base, version, views, augment.__dict__, seed]).encode())
    h.update(np.ascontiguousarray(image_ids, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


def cache_path(ws: Workspace, base: str, key: str) -> Path:
    """Where a feature cache lives inside the workspace."""
    path = ws.model_dir / "_features"
    path.mkdir(parents=True, exist_ok=True)
    return path / f"{base.replace(':', '_').replace('/', '_')}-{key}.npy"


def view_seed(seed: int, image_id: int, view: int) -> int:
    """The RNG seed of one augmented view, independent of batch order and machine."""
    return (seed * 1_000_003 + int(image_id) * 97 + view) % (2**31)


def augmented_views(img, preprocess, augment: Augment, views: int, image_id: int, seed: int) -> np.ndarray:
    """(1 + views) x C x H x W: the plain preprocessed image, then `views` seeded augmentations."""
    import torch

    short = int(round(preprocess.size / preprocess.crop_pct))
    tf = augment.transform(short)
    arrs = [preprocess(img)]
    for v in range(1, views + 1):
        torch.manual_seed(view_seed(seed, image_id, v))
        arrs.append(preprocess(tf(img)))
    return np.stack(arrs)


def compute_features(samples: Samples, preprocess, run: Callable[[np.ndarray], np.ndarray], views: int,
                     augment: Augment, seed: int, batch_size: int = 32,
                     progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """n x (1 + views) x D features; `run` maps an NCHW batch to L2-normalised vectors."""
    per = max(1, batch_size // (views + 1))
    out: list[np.ndarray] = []
    for start in range(0, len(samples), per):
        batch = []
        for i in range(start, min(start + per, len(samples))):
            try:
                img = images.load(samples.paths[i])
            except BadImage as e:
                raise BadImage(f"training image {samples.paths[i]} cannot be read ({e.message}); "
                               "re-run lookalike ingest to mark it bad") from None
            batch.append(augmented_views(img, preprocess, augment, views, int(samples.image_ids[i]), seed))
        arr = np.concatenate(batch)
        out.append(run(arr).reshape(len(batch), views + 1, -1))
        if progress:
            progress(min(start + per, len(samples)), len(samples))
    return np.concatenate(out).astype(np.float32)


def cached_features(ws: Workspace, base: str, samples: Samples, views: int = 0, augment: Augment | None = None,
                    seed: int = 0, batch_size: int = 32,
                    progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Features of the frozen base model for these samples, computed once and kept under models/_features/."""
    augment = augment or Augment()
    embedder = ws.embedder(base)
    key = cache_key(base, embedder.version, samples.image_ids, views, augment, seed)
    if views == 0:
        stored = stored_features(ws, base, samples.image_ids)
        if stored is not None:
            return stored
    path = cache_path(ws, base, key)
    if path.exists():
        feats = np.load(path)
        if feats.shape[:2] == (len(samples), views + 1):
            return feats
    feats = compute_features(samples, embedder.preprocess, embedder.run, views, augment, seed, batch_size, progress)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, feats)
    tmp.replace(path)
    return feats


def stored_features(ws: Workspace, base: str, image_ids: np.ndarray) -> np.ndarray | None:
    """n x 1 x D plain-view vectors from the workspace's embeddings, when every image has one."""
    ids, vecs = ws.catalog.embeddings(base, views=[0])
    if len(ids) == 0:
        return None
    from ..store import image_of

    row = {int(i): k for k, i in enumerate(image_of(ids))}
    if any(int(i) not in row for i in image_ids):
        return None
    return vecs[[row[int(i)] for i in image_ids]][:, None, :]
