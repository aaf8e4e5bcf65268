"""PCA / whitening fitted on the catalog's embeddings, applied as a MatMul appended to the base ONNX graph (no torch)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import BadInput
from ..workspace import Workspace
from .data import load_data


@dataclass
class PcaConfig:
    """A PCA run: which vectors to fit on and what to keep."""

    name: str
    base: str = "efficientnet_lite2"
    dim: int = 256
    whiten: bool = False
    fit: str | None = None  # metadata expression selecting the images to fit on [all]
    eps: float = 1e-6


def fit_pca(vecs: np.ndarray, dim: int, whiten: bool, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, projection D x dim, explained variance ratio) of L2-normalised vectors."""
    if dim < 1 or dim > min(vecs.shape):
        raise BadInput(f"--dim {dim} must be between 1 and {min(vecs.shape)} (images x feature size)")
    mean = vecs.mean(axis=0)
    _, s, vt = np.linalg.svd(vecs - mean, full_matrices=False)
    var = s**2 / max(len(vecs) - 1, 1)
    proj = vt[:dim].T
    if whiten:
        proj = proj / np.sqrt(var[:dim] + eps)
    return mean.astype(np.float32), proj.astype(np.float32), (var[:dim] / var.sum()).astype(np.float32)


def apply_pca(vecs: np.ndarray, mean: np.ndarray, proj: np.ndarray) -> np.ndarray:
    """The same computation the exported graph does, in NumPy (then L2-normalised)."""
    from ..embedders.preprocess import l2_normalize

    return l2_normalize((l2_normalize(vecs) - mean) @ proj)


def append_projection(base_onnx: str, out: str, mean: np.ndarray, proj: np.ndarray) -> None:
    """Write base graph -> L2 normalise -> subtract mean -> MatMul as a new ONNX file."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(base_onnx)
    g = model.graph
    feat = g.output[0].name
    g.initializer.extend([numpy_helper.from_array(mean[None, :], "pca_mean"), numpy_helper.from_array(proj, "pca_proj")])
    g.node.extend([
        helper.make_node("LpNormalization", [feat], ["pca_normed"], axis=1, p=2),
        helper.make_node("Sub", ["pca_normed", "pca_mean"], ["pca_centred"]),
        helper.make_node("MatMul", ["pca_centred", "pca_proj"], ["embedding"]),
    ])
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("embedding", onnx.TensorProto.FLOAT, ["batch", proj.shape[1]]))
    onnx.checker.check_model(model)
    onnx.save(model, out)


def train_pca(ws: Workspace, cfg: PcaConfig) -> dict:
    """Fit on the base model's stored catalog embeddings, export, check against NumPy and register."""
    from ..embedders.onnx_runtime import OnnxEmbedder
    from .export import ONNX_ATOL, check_name, register
    from .features import stored_features

    check_name(cfg.name)
    t0 = time.perf_counter()
    data = load_data(ws, "product", cfg.fit, None, None, min_per_class=1)
    feats = stored_features(ws, cfg.base, data.train.image_ids)
    if feats is None:
        raise BadInput(f"PCA fits on stored {cfg.base} embeddings; embed the catalog first: "
                       f"lookalike index --model {cfg.base} -w {ws.root}")
    mean, proj, ratio = fit_pca(feats[:, 0], cfg.dim, cfg.whiten, cfg.eps)
    base = ws.embedder(cfg.base)
    path = ws.model_dir / f"{cfg.name}.onnx"
    append_projection(str(base.path), str(path), mean, proj)
    x = np.random.default_rng(0).standard_normal((2, 3, base.preprocess.size, base.preprocess.size)).astype(np.float32)
    diff = float(np.abs(OnnxEmbedder(cfg.name, path, base.preprocess, "check", threads=1).run(x)
                        - apply_pca(base.run(x), mean, proj)).max())
    if diff > ONNX_ATOL:
        path.unlink()
        raise RuntimeError(f"ONNX PCA graph of {cfg.name} differs from NumPy by {diff:.2e} (> {ONNX_ATOL}); "
                           "not registered")
    seconds = round(time.perf_counter() - t0, 2)
    lineage = {"learner": "pca", "base": cfg.base, "data": data.describe, "hyper": asdict(cfg), "seed": None,
               "metrics": {"explained_variance": float(ratio.sum()), "seconds": seconds}, "onnx_max_abs_diff": diff}
    spec = register(ws, cfg.name, path.name, base.preprocess, cfg.base, lineage)
    return {"name": cfg.name, "version": spec["version"], "explained_variance": round(float(ratio.sum()), 4),
            "n_fit": len(feats), "seconds": seconds, "onnx_max_abs_diff": diff}
