"""Export a trained torch embedder to ONNX inside the workspace and register it, so every command can use it."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np

from ..embedders.preprocess import Preprocess
from ..errors import BadInput
from ..workspace import Workspace

#: ONNX vs torch agreement required on L2-normalised vectors (float32 graph, different kernels)
ONNX_ATOL = 1e-4
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_name(name: str) -> None:
    """A model name must be a plain file name and must not shadow a built-in model."""
    from ..embedders.registry import HUB_PREFIXES, list_embedders

    if not _NAME.match(name or ""):
        raise BadInput(f"model name {name!r} must be letters, digits, '-', '_' or '.' (up to 64), e.g. --name grocery-ms")
    if name in list_embedders() or name.startswith(HUB_PREFIXES):
        raise BadInput(f"--name {name!r} is a built-in model; pick another name, e.g. --name {name}-tuned")


def lineage_version(lineage: dict, onnx_digest: str) -> str:
    """A short hash of the lineage and the ONNX file: changes whenever either does."""
    return hashlib.sha256((json.dumps(lineage, sort_keys=True, default=str) + onnx_digest).encode()).hexdigest()[:12]


def register(ws: Workspace, name: str, onnx_file: str, preprocess: Preprocess, base: str, lineage: dict) -> dict:
    """Store the model spec in the workspace's models table; returns the spec."""
    from ..embedders.onnx_runtime import file_digest

    spec = {"onnx": onnx_file, "preprocess": preprocess.to_dict(), "base": base, "lineage": lineage,
            "version": lineage_version(lineage, file_digest(str(ws.model_dir / onnx_file)))}
    ws.catalog.put_model(name, spec)
    return spec


def export_torch(ws: Workspace, name: str, module, preprocess: Preprocess, base: str, lineage: dict) -> dict:
    """ONNX-export `module` (NCHW -> N x D) to models/NAME.onnx, check it against torch, and register it."""
    import torch

    from ..embedders.onnx_runtime import OnnxEmbedder, export_onnx

    module = module.eval().cpu()
    path = ws.model_dir / f"{name}.onnx"
    export_onnx(module, preprocess.size, path)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 3, preprocess.size, preprocess.size),
                                                                 dtype=np.float32))
    with torch.no_grad():
        ref = torch.nn.functional.normalize(module(x), dim=1).numpy()
    got = OnnxEmbedder(name, path, preprocess, "check", threads=1).run(x.numpy())
    diff = float(np.abs(ref - got).max())
    if diff > ONNX_ATOL:
        raise RuntimeError(f"ONNX export of {name} differs from torch by {diff:.2e} (> {ONNX_ATOL}); not registered")
    return register(ws, name, path.name, preprocess, base, {**lineage, "onnx_max_abs_diff": diff})
