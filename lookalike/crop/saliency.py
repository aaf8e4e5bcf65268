"""The `saliency` cropper: a classical box around the most salient part of the photo (numpy and Pillow only).

Two saliency maps are available: `spectral` (the spectral residual of the log amplitude spectrum, Hou & Zhang
2007) and `edges` (gradient-magnitude density). The box is the window that maximises the saliency above a
threshold, found exhaustively on a coarse grid with an integral image; several regions come from NMS.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..errors import BadInput
from .regions import nms
from .registry import Cropper, Region

MAP_SIZE = 64
GRID_STEP = 4
METHODS = ("spectral", "edges")


def _gray(img: Image.Image, size: int = MAP_SIZE) -> np.ndarray:
    small = img.convert("L").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.float64) / 255.0


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with reflected borders."""
    r = max(1, int(round(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    for axis in (0, 1):
        pad = [(r, r) if a == axis else (0, 0) for a in (0, 1)]
        xp = np.pad(x, pad, mode="reflect")
        n = x.shape[axis]
        x = sum(w * np.take(xp, np.arange(i, i + n), axis=axis) for i, w in enumerate(k))
    return x


def spectral_residual(gray: np.ndarray) -> np.ndarray:
    """Saliency map from the spectral residual of the log amplitude spectrum."""
    f = np.fft.fft2(gray)
    log_amp, phase = np.log(np.abs(f) + 1e-9), np.angle(f)
    pad = np.pad(log_amp, 1, mode="wrap")
    mean3 = sum(pad[i : i + gray.shape[0], j : j + gray.shape[1]] for i in range(3) for j in range(3)) / 9.0
    sal = np.abs(np.fft.ifft2(np.exp(log_amp - mean3 + 1j * phase))) ** 2
    return _blur(sal, 2.5)


def edge_density(gray: np.ndarray) -> np.ndarray:
    """Saliency map from the local density of strong gradients."""
    gx = np.zeros_like(gray)
    gy = np.zeros_like(gray)
    gx[:, 1:-1] = gray[:, 2:] - gray[:, :-2]
    gy[1:-1, :] = gray[2:, :] - gray[:-2, :]
    return _blur(np.hypot(gx, gy), 3.0)


def window_scores(sal: np.ndarray, alpha: float, min_side: float) -> tuple[np.ndarray, np.ndarray]:
    """(boxes in map pixels, scores): every grid window scored by its saliency above alpha x the mean."""
    g = sal.shape[0]
    ii = np.pad((sal - alpha * sal.mean()).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    pts = np.arange(0, g + 1, GRID_STEP)
    a, b = np.meshgrid(pts, pts, indexing="ij")
    spans = np.stack([a.ravel(), b.ravel()], 1)
    spans = spans[spans[:, 1] - spans[:, 0] >= min_side * g]
    ys, xs = np.repeat(spans, len(spans), 0), np.tile(spans, (len(spans), 1))
    score = ii[ys[:, 1], xs[:, 1]] - ii[ys[:, 0], xs[:, 1]] - ii[ys[:, 1], xs[:, 0]] + ii[ys[:, 0], xs[:, 0]]
    boxes = np.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], 1).astype(np.float64)
    return boxes, score


class SaliencyCropper(Cropper):
    """The box that holds most of the photo's saliency, from a spectral-residual or edge-density map."""

    name = "saliency"

    def __init__(self, method: str = "edges", alpha: float = 1.0, min_side: float = 0.35, margin: float = 0.08):
        if method not in METHODS:
            raise BadInput(f"unknown saliency method {method!r}; use one of {', '.join(METHODS)}")
        self.method, self.alpha, self.min_side, self.margin = method, alpha, min_side, margin

    def saliency_map(self, img: Image.Image) -> np.ndarray:
        """MAP_SIZE x MAP_SIZE saliency, normalised to sum 1."""
        gray = _gray(img)
        sal = spectral_residual(gray) if self.method == "spectral" else edge_density(gray)
        return sal / max(float(sal.sum()), 1e-12)

    def _propose(self, img, n: int, searcher, filters) -> list[Region]:
        boxes, scores = window_scores(self.saliency_map(img), self.alpha, self.min_side)
        margin = (boxes[:, 2:] - boxes[:, :2]) * self.margin
        boxes = np.concatenate([boxes[:, :2] - margin, boxes[:, 2:] + margin], 1).clip(0, MAP_SIZE)
        boxes = np.round(boxes * np.array([img.width, img.height] * 2) / MAP_SIZE)
        return [Region(tuple(boxes[i]), float(scores[i])) for i in nms(boxes, scores, 0.3, n)]
