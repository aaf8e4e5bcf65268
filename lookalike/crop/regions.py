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


def nms(boxes, scores, iou_threshold: float = 0.3, limit: int | None = None) -> list[int]:
    """Indices of the boxes kept by greedy non-maximum suppression, best score first."""
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) == 0:
        return []
    ious = iou_matrix(boxes)
    keep: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if all(ious[i, j] <= iou_threshold for j in keep):
            keep.append(int(i))
            if limit is not None and len(keep) >= limit:
                break
    return keep


def distinct_regions(regions: list[Region], n: int, iou_threshold: float = 0.3) -> list[Region]:
    """The n best regions whose boxes overlap each other at most iou_threshold."""
    if not regions:
        return []
    keep = nms([r.box for r in regions], [r.score for r in regions], iou_threshold, n)
    return [regions[i] for i in keep]
