"""grocery_store recall of registered PCA models without re-embedding: the stored base vectors through the same
mean/projection as the model's ONNX graph (read from that file). Usage: train_pca_eval.py WS MODEL [MODEL...]"""
import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from lookalike.evaluate import knn_recall
from lookalike.evaluate.bootstrap import bootstrap_ci
from lookalike.store import image_of
from lookalike.train.pca import apply_pca
from lookalike.workspace import Workspace


def pca_params(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The mean and projection appended by `lookalike train pca`."""
    init = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    return init["pca_mean"][0], init["pca_proj"]


def onnx_check(ws: Workspace, name: str, vector_ids: np.ndarray, expected: np.ndarray) -> float:
    """Largest difference between the registered ONNX model on real images and the stored-vector shortcut."""
    from lookalike import images

    paths = [ws.catalog.image(int(i)).local_path for i in image_of(vector_ids)]
    got = ws.embedder(name).embed([images.load(p) for p in paths])
    return float(np.abs(got - expected).max())


def recalls(vecs: np.ndarray, split: np.ndarray, labels: np.ndarray) -> dict:
    """test -> train R@1 and test -> iconic R@1/@5, each with a 95% bootstrap interval."""
    out = {}
    te = split == "test"
    for tag, gal, ks in (("test_train", split == "train", (1,)), ("test_iconic", split == "catalog", (1, 5))):
        q, g = vecs[te], vecs[gal]
        order = np.argsort(-(q @ g.T), axis=1, kind="stable")[:, :5]
        hit = labels[gal][order] == labels[te][:, None]
        for k in ks:
            per_query = hit[:, :k].any(axis=1).astype(float)
            lo, hi = bootstrap_ci(per_query)
            out[f"{tag}_r{k}"] = [round(per_query.mean(), 4), round(lo, 4), round(hi, 4)]
            if k == 1:  # lookalike's own kNN recall agrees with this ranking
                assert abs(knn_recall(q, labels[te], g, labels[gal], ks=(1,))[1] - per_query.mean()) < 1e-9
    return out


def main() -> None:
    ws, names = Workspace(sys.argv[1]), sys.argv[2:]
    specs = ws.catalog.workspace_models()
    base = specs[names[0]]["base"]
    ids, vecs = ws.catalog.embeddings(base, views=[0])
    meta, img_pid = ws.catalog.products(), ws.catalog.image_products()
    rows = [meta[img_pid[int(i)]] for i in image_of(ids)]
    split = np.array([r["split"] for r in rows])
    labels = np.array([r["instance_id"] for r in rows])
    results = {base: recalls(vecs, split, labels)}
    for name in names:
        mean, proj = pca_params(ws.model_dir / specs[name]["onnx"])
        pca_vecs = apply_pca(vecs, mean, proj)
        results[name] = recalls(pca_vecs, split, labels)
        results[name]["onnx_vs_stored_max_abs_diff"] = onnx_check(ws, name, ids[:16], pca_vecs[:16])
    for name, r in results.items():
        print(f"{name:24s} " + "  ".join(f"{k} {v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]" if isinstance(v, list)
                                         else f"{k} {v:.1e}" for k, v in r.items()))
    Path("bench/results").mkdir(exist_ok=True)
    Path("bench/results/train_pca_eval.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
