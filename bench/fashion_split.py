"""Write fashion_product_224's manifest with a deterministic `split` column (docs/quality.md, trained models).

test: int(sha1(id), 16) % 10 in (0, 1); val: 2; train: the rest; rare: articleTypes with fewer than 5 images.
Usage: fashion_split.py OUT.csv, then lookalike ingest OUT.csv -w WS --id-column id --image-column image"""
import csv
import hashlib
import sys
from collections import Counter
from pathlib import Path

SRC = Path("/work/shared/datasets/fashion_product_224")


def split_of(pid: str, n_in_type: int) -> str:
    """The split of one image, from its id alone (and its articleType's size)."""
    if n_in_type < 5:
        return "rare"
    bucket = int(hashlib.sha1(pid.encode()).hexdigest(), 16) % 10
    return "test" if bucket < 2 else "val" if bucket == 2 else "train"


def main() -> None:
    with open(SRC / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    sizes = Counter(r["articleType"] for r in rows)
    out = [{"id": r["path"], "image": str(SRC / r["path"]), **{k: v for k, v in r.items() if k != "path"},
            "split": split_of(r["path"], sizes[r["articleType"]])} for r in rows]
    with open(sys.argv[1], "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(out[0]))
        writer.writeheader()
        writer.writerows(out)
    print(Counter(r["split"] for r in out))


if __name__ == "__main__":
    main()
