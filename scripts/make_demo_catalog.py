"""Rebuild demo/ from ../shared/datasets/grocery_store: 81 products x (iconic + 1 shop photo) + 30 query photos."""

from __future__ import annotations

import csv
import random
import shutil
import sys
from collections import defaultdict
from pathlib import Path

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/grocery_store")
DST = Path("demo")


def main() -> None:
    rows = list(csv.DictReader(open(SRC / "manifest.csv")))
    prods = {r["instance_id"]: r for r in csv.DictReader(open(SRC / "products.csv"))}
    by_split: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        by_split[r["split"]][r["instance_id"]].append(r["path"])
    rng = random.Random(0)
    (DST / "images").mkdir(parents=True, exist_ok=True)
    (DST / "queries").mkdir(parents=True, exist_ok=True)
    out = []
    for pid, p in sorted(prods.items()):
        name = p["description"].split(".")[0][:80]
        for kind, src in (("iconic", p["iconic_path"]), ("shop", sorted(by_split["train"][pid])[0])):
            dst = DST / "images" / f"{pid}_{kind}.jpg"
            shutil.copyfile(SRC / src, dst)
            out.append({"id": pid, "image": f"images/{dst.name}", "name": pid.replace("-", " "),
                        "category": p["label"], "group": p["group"], "description": name})
    with open(DST / "catalog.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(out[0]))
        w.writeheader()
        w.writerows(out)
    test_ids = sorted(by_split["test"])
    q = []
    for pid in rng.sample(test_ids, 30):
        src = rng.choice(sorted(by_split["test"][pid]))
        dst = DST / "queries" / f"{pid}__{Path(src).stem}.jpg"
        shutil.copyfile(SRC / src, dst)
        q.append({"query": f"queries/{dst.name}", "product_id": pid})
    with open(DST / "queries.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["query", "product_id"])
        w.writeheader()
        w.writerows(q)
    shutil.copyfile(SRC / "LICENSE.source.txt", DST / "LICENSE.grocery_store.txt")


if __name__ == "__main__":
    main()
