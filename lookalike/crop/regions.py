"""Box geometry for croppers: IoU, non-maximum suppression, and the top-n distinct regions."""

from __future__ import annotations

import numpy as np

from .registry import Region


def iou(a, b) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def iou_matrix(boxes: np.ndarray) -> np.ndarray:
    """Pairwise IoU of an n x 4 array of boxes."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x0, y0 = np.maximum(b[:, None, 0], b[None, :, 0]), np.maximum(b[:, None, 1], b[None, :, 1])
    x1, y1 = np.minimum(b[:, None, 2], b[None, :, 2]), np.minimum(b[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area[:, None] + area[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _iou_one(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box against an n x 4 array."""
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    union = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes, scores, iou_threshold: float = 0.3, limit: int | None = None) -> list[int]:
    """Indices of the boxes kept by greedy non-maximum suppression, best score first."""
    scores = np.asarray(scores, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    alive = np.ones(len(scores), dtype=bool)
    keep: list[int] = []
    while alive.any() and (limit is None or len(keep) < limit):
        i = int(np.flatnonzero(alive)[np.argmax(scores[alive])])
        keep.append(i)
        alive &= _iou_one(boxes[i], boxes) <= iou_threshold
        alive[i] = False
    return keep


def distinct_regions(regions: list[Region], n: int, iou_threshold: float = 0.3) -> list[Region]:
    """The n best regions whose boxes overlap each other at most iou_threshold."""
    if not regions:
        return []
    keep = nms([r.box for r in regions], [r.score for r in regions], iou_threshold, n)
    return [regions[i] for i in keep]
