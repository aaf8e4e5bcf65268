"""Hub models (timm, open_clip) for machines that can download weights."""

from __future__ import annotations

import os
import tempfile

from ..errors import BadInput, ModelUnavailable
from .preprocess import Preprocess
from .registry import ModelSpec


def _download_error(name: str, e: Exception) -> ModelUnavailable:
    return ModelUnavailable(
        f"could not download the weights of {name} ({type(e).__name__}: {e}). This machine may have no access "
        "to the model hub: use a built-in offline model instead (lookalike models lists them)"
    )


def _timm_spec(arch: str) -> ModelSpec:
    try:
        import timm
    except ImportError:
        raise ModelUnavailable("timm models need timm and torch. Run: pip install 'lookalike[torch]'") from None
    if not timm.is_model(arch):
        raise BadInput(f"timm has no model {arch!r}; see timm.list_models() for names")

    state: dict = {}

    def build():
        try:
            model = timm.create_model(arch, pretrained=True, num_classes=0)
        except Exception as e:  # network errors come in many types
            raise _download_error(f"timm:{arch}", e) from None
        state["model"] = model
        return model.eval()

    def weights():
        # timm caches by name; the architecture name stands in for the weights hash
        marker = os.path.join(tempfile.gettempdir(), f"lookalike-timm-{arch}.id")
        with open(marker, "w") as f:
            f.write(arch)
        return marker

    cfg = timm.get_pretrained_cfg(arch)
    size = int((cfg.input_size if cfg else (3, 224, 224))[-1])
    pre = Preprocess(
        size=size,
        mean=tuple(cfg.mean) if cfg else (0.485, 0.456, 0.406),
        std=tuple(cfg.std) if cfg else (0.229, 0.224, 0.225),
        crop_pct=float(cfg.crop_pct) if cfg and cfg.crop_pct else 0.875,
    )
    return ModelSpec(f"timm:{arch}", f"timm {arch} (downloads weights)", pre, 0, build, weights, ["timm", "torch"])


def _open_clip_spec(name: str) -> ModelSpec:
    try:
        import open_clip
    except ImportError:
        raise ModelUnavailable("open_clip models need open_clip_torch. Run: pip install open_clip_torch") from None
    arch, _, pretrained = name.partition("/")
    if not pretrained:
        raise BadInput(f"open_clip model {name!r} needs ARCH/PRETRAINED, e.g. open_clip:ViT-B-32/laion2b_s34b_b79k")

    def build():
        import torch

        try:
            model, _, _ = open_clip.create_model_and_transforms(arch, pretrained=pretrained)
        except Exception as e:
            raise _download_error(f"open_clip:{name}", e) from None

        class Visual(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, x):
                return self.m.encode_image(x)

        return Visual(model).eval()

    def weights():
        marker = os.path.join(tempfile.gettempdir(), f"lookalike-openclip-{arch}-{pretrained}.id")
        with open(marker, "w") as f:
            f.write(name)
        return marker

    pre = Preprocess(size=224, mean=(0.4815, 0.4578, 0.4082), std=(0.2686, 0.2613, 0.2758), crop_pct=1.0)
    return ModelSpec(f"open_clip:{name}", f"open_clip {name} (downloads weights)", pre, 0, build, weights)


def hub_spec(name: str) -> ModelSpec:
    """A spec for 'timm:ARCH' or 'open_clip:ARCH/PRETRAINED'."""
    kind, _, rest = name.partition(":")
    if not rest:
        raise BadInput(f"hub model {name!r} has no name after the colon")
    return _timm_spec(rest) if kind == "timm" else _open_clip_spec(rest)
