"""Shared by the crop benchmarks: the grocery_store protocol-1 gallery (81 iconic images) as its own workspace."""

from __future__ import annotations

import random
import shutil
from collections import defaultdict
from pathlib import Path

from lookalike.workspace import Workspace


def gallery_workspace(src: Workspace, dst: Path, models: list[str], train_ws: Workspace | None = None) -> Workspace:
    """A workspace of src's 81 iconic products only, embedded and indexed with each model.

    Models registered in train_ws (trained models) are registered here too, with their ONNX file copied.
    """
    from lookalike.embed import embed_new
    from lookalike.index.build import build_index

    ws = Workspace(dst)
    iconic = {pid: m for pid, m in src.catalog.products().items() if m.get("domain") == "iconic"}
    with ws.catalog.transaction() as c:
        for r in src.catalog.images():
            if r.product_id in iconic:
                ws.catalog.upsert_product(c, r.product_id, iconic[r.product_id], None, "bench")
                info = {"local_path": r.local_path, "sha256": r.sha256, "status": "ok"}
                ws.catalog.upsert_image(c, r.product_id, r.source, info, None)
    trained = train_ws.catalog.workspace_models() if train_ws else {}
    for model in models:
        if model in trained:
            ws.catalog.put_model(model, trained[model])
            shutil.copy(train_ws.model_dir / trained[model]["onnx"], ws.model_dir / trained[model]["onnx"])
        embed_new(ws, model)
        build_index(ws.catalog, ws.index_dir, model)
    return ws


def test_queries(src: Workspace, limit: int | None = None, seed: int = 0) -> list[tuple[str, str]]:
    """(image path, instance_id) of the test photos; a proportional per-product sample when limit is given."""
    by_product: dict[str, list[str]] = defaultdict(list)
    meta = src.catalog.products()
    for r in src.catalog.images():
        m = meta.get(r.product_id, {})
        if m.get("split") == "test":
            by_product[m["instance_id"]].append(r.local_path or r.source)
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
