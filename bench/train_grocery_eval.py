"""Test-split recall of a trained head model, via the base model's stored embeddings (same graph as its ONNX)."""
import json
import sys

import numpy as np
import torch

from lookalike.evaluate import knn_recall
from lookalike.store import image_of
from lookalike.train.heads import ProjectionHead
from lookalike.workspace import Workspace

ws, name = Workspace(sys.argv[1]), sys.argv[2]
spec = ws.catalog.workspace_models()[name]
hyper = spec["lineage"]["hyper"]
ids, vecs = ws.catalog.embeddings(spec["base"], views=[0])
meta = ws.catalog.products()
img_pid = ws.catalog.image_products(np.zeros(0))
m = [meta[img_pid[int(i)]] for i in image_of(ids)]
state = torch.load(ws.model_dir / name / "ckpt.pt", weights_only=False)["best_state"]["head"]
head = ProjectionHead(vecs.shape[1], hyper["dim"], hyper["hidden"]).eval()
head.load_state_dict(state)
with torch.no_grad():
    emb = torch.nn.functional.normalize(head(torch.from_numpy(vecs)), dim=1).numpy()
split = np.array([x["split"] for x in m])
lab = np.array([x["instance_id"] for x in m])
out = {}
for tag, e in (("pretrained", vecs), (name, emb)):
    te, tr, ic = split == "test", split == "train", split == "catalog"
    a, b = knn_recall(e[te], lab[te], e[tr], lab[tr]), knn_recall(e[te], lab[te], e[ic], lab[ic])
    out[tag] = {"test_train_r1": round(a[1], 4), "test_iconic_r1": round(b[1], 4), "test_iconic_r5": round(b[5], 4)}
print(json.dumps(out))
