"""Model preprocessing in NumPy and Pillow, so that serving needs no torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

_RESAMPLE = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


@dataclass(frozen=True)
class Preprocess:
    """Input size, normalisation and crop that travel with a model."""

    size: int = 224
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    crop_pct: float = 0.875
    interpolation: str = "bicubic"

    def to_dict(self) -> dict:
        """JSON-friendly form, stored with trained models."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocess":
        """Inverse of to_dict."""
        return cls(
            size=int(d["size"]), mean=tuple(d["mean"]), std=tuple(d["std"]),
            crop_pct=float(d["crop_pct"]), interpolation=d.get("interpolation", "bicubic"),
        )

    def __call__(self, img: Image.Image) -> np.ndarray:
        """RGB image -> CHW float32 array: resize the short side, centre-crop, normalise."""
        w, h = img.size
        short = int(round(self.size / self.crop_pct))
        scale = short / min(w, h)
        nw, nh = max(self.size, round(w * scale)), max(self.size, round(h * scale))
        left, top = (nw - self.size) // 2, (nh - self.size) // 2
        # resample only the centre crop (the box is in source pixels): same pixels, a quarter less work
        sx, sy = w / nw, h / nh
        box = (left * sx, top * sy, (left + self.size) * sx, (top + self.size) * sy)
        img = img.resize((self.size, self.size), _RESAMPLE[self.interpolation], box=box)
        scale_c, shift_c = self._affine()
        x = np.asarray(img).transpose(2, 0, 1).astype(np.float32, order="C")
        x *= scale_c
        x += shift_c
        return x

    def _affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(x / 255 - mean) / std as one multiply-add per channel: x * scale + shift."""
        std = np.asarray(self.std, dtype=np.float64)
        scale = (1.0 / (255.0 * std)).astype(np.float32).reshape(3, 1, 1)
        shift = (-np.asarray(self.mean, dtype=np.float64) / std).astype(np.float32).reshape(3, 1, 1)
        return scale, shift


def l2_normalize(vecs: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    vecs = np.asarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.maximum(norms, 1e-12)
