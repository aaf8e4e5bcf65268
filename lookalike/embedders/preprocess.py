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
        img = img.resize((nw, nh), _RESAMPLE[self.interpolation])
        left, top = (nw - self.size) // 2, (nh - self.size) // 2
        img = img.crop((left, top, left + self.size, top + self.size))
        x = np.asarray(img, dtype=np.float32) * (1.0 / 255.0)
        x = (x - np.asarray(self.mean, dtype=np.float32)) / np.asarray(self.std, dtype=np.float32)
        return np.ascontiguousarray(x.transpose(2, 0, 1))


def l2_normalize(vecs: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    vecs = np.asarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.maximum(norms, 1e-12)
