"""Training data from a workspace: labels from any catalog column, splits by metadata expressions, augmentations."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import BadInput
from ..evaluate.protocol import Condition, parse_selection, selected
from ..workspace import Workspace

#: label column names that mean "the product id itself"
PRODUCT_LABEL = ("product", "product_id", "id")
#: label value for unlabeled mode: every image is its own class, positives are augmented views
NO_LABELS = "none"


@dataclass
class Samples:
    """Images of one split with integer labels (indices into `classes`)."""

    image_ids: np.ndarray
    paths: list[str]
    labels: np.ndarray
    classes: list[str]

    def __len__(self) -> int:
        return len(self.image_ids)

    def subset(self, mask: np.ndarray) -> "Samples":
        """The samples where mask is true (classes are kept)."""
        idx = np.flatnonzero(mask)
        return Samples(self.image_ids[idx], [self.paths[i] for i in idx], self.labels[idx], self.classes)


@dataclass
class TrainData:
    """Train and validation samples sharing one class list."""

    train: Samples
    val: Samples | None
    label_column: str
    describe: dict = field(default_factory=dict)


def _expr(items: str | list[str] | None) -> list[Condition]:
    """'split=train', 'domain!=iconic', 'split=train & group=Fruit' (';' works as '&' too), or a list of them.

    The same grammar as lookalike eval's --query/--gallery.
    """
    if isinstance(items, str):
        items = items.replace(";", "&")
    return parse_selection(items)


def _rows(ws: Workspace) -> list[tuple[int, str, str, dict]]:
    """(image id, product id, path, metadata) of every good image."""
    meta = ws.catalog.products()
    return [(r.id, r.product_id, r.local_path or r.source, meta.get(r.product_id, {})) for r in ws.catalog.images()]


def _label_of(pid: str, meta: dict, column: str) -> str | None:
    if column in PRODUCT_LABEL:
        return pid
    value = meta.get(column)
    return None if value is None or value == "" else str(value)


def _check_column(rows: list, column: str) -> None:
    if column in PRODUCT_LABEL or column == NO_LABELS:
        return
    columns = sorted({k for *_, m in rows for k in m})
    if not any(column in m for *_, m in rows):
        raise BadInput(
            f"label column {column!r} not found in the catalog metadata; columns are: {', '.join(columns)}. "
            f"Use --labels COLUMN, --labels product (one class per product) or --labels none (unlabeled)"
        )


def load_data(ws: Workspace, labels: str = "product", train: str | list[str] | None = None,
              val: str | list[str] | None = None, join: str | list[str] | None = None,
              min_per_class: int = 2) -> TrainData:
    """Select train/val images by metadata expressions; `join` images (e.g. catalog shots) join the train set."""
    rows = _rows(ws)
    if not rows:
        raise BadInput(f"workspace {ws.root} has no images. Run: lookalike ingest CATALOG -w {ws.root}")
    _check_column(rows, labels)
    f_train, f_val, f_join = _expr(train), _expr(val), _expr(join)
    picked: dict[str, list] = {"train": [], "val": []}
    for image_id, pid, path, meta in rows:
        in_val = bool(f_val) and selected(meta, f_val)
        in_train = selected(meta, f_train) and not in_val
        if f_join and selected(meta, f_join) and not in_val:
            in_train = True
        label = pid if labels == NO_LABELS else _label_of(pid, meta, labels)
        if label is None:
            continue
        if labels == NO_LABELS:
            label = str(image_id)
        if in_train:
            picked["train"].append((image_id, path, label))
        elif in_val:
            picked["val"].append((image_id, path, label))
    if not picked["train"]:
        raise BadInput(f"no training images match --train {train!r}; check it with: lookalike products -f KEY=VALUE")
    classes = sorted({lab for *_, lab in picked["train"]})
    _check_counts(picked["train"], labels, min_per_class)
    index = {c: i for i, c in enumerate(classes)}
    tr = _samples(picked["train"], index, classes)
    va = _samples([r for r in picked["val"] if r[2] in index], index, classes) if picked["val"] else None
    desc = {"labels": labels, "train": train, "val": val, "join": join, "n_train": len(tr),
            "n_val": len(va) if va else 0, "n_classes": len(classes)}
    return TrainData(tr, va if va is not None and len(va) else None, labels, desc)


def _check_counts(rows: list, labels: str, min_per_class: int) -> None:
    if labels == NO_LABELS:
        return
    counts = Counter(lab for *_, lab in rows)
    lonely = sorted(c for c, n in counts.items() if n < min_per_class)
    if lonely:
        raise BadInput(
            f"{len(lonely)} class(es) of --labels {labels} have fewer than {min_per_class} training images, "
            f"e.g. {lonely[0]!r} ({counts[lonely[0]]}). A metric loss needs a positive pair per class: use a "
            "coarser --labels column, add images (--join 'domain=iconic'), or --labels none (augmented views)"
        )
    if len(counts) < 2:
        raise BadInput(f"--labels {labels} gives only {len(counts)} class in the training set; need at least 2")


def _samples(rows: list, index: dict[str, int], classes: list[str]) -> Samples:
    return Samples(
        np.array([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows],
        np.array([index[r[2]] for r in rows], dtype=np.int64), classes,
    )


@dataclass
class Augment:
    """Product-photo augmentations; each can be switched off with 0."""

    crop_scale: float = 0.5  # random resized crop keeps this fraction of the area at least (1 = off)
    hflip: float = 0.5
    vflip: float = 0.0
    jitter: float = 0.3  # brightness/contrast/saturation strength
    hue: float = 0.02
    blur: float = 0.2  # probability of a Gaussian blur
    perspective: float = 0.2  # probability of a perspective warp

    @classmethod
    def parse(cls, text: str | None) -> "Augment":
        """'crop_scale=0.6,vflip=0.5,blur=0' -> Augment; 'none' switches everything off."""
        if not text:
            return cls()
        if text.strip() == "none":
            return cls(1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        values = asdict(cls())
        for part in text.split(","):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or key not in values:
                raise BadInput(f"augmentation {part!r} is not NAME=VALUE with NAME in: {', '.join(values)}")
            try:
                values[key] = float(value)
            except ValueError:
                raise BadInput(f"augmentation {key} needs a number, got {value!r}") from None
        return cls(**values)

    def transform(self, size: int):
        """A torchvision transform on PIL images producing a size x size PIL image."""
        from torchvision import transforms as T

        steps = [T.RandomResizedCrop(size, scale=(min(self.crop_scale, 1.0), 1.0), ratio=(0.8, 1.25))
                 if self.crop_scale < 1 else T.Compose([T.Resize(size), T.CenterCrop(size)])]
        if self.hflip > 0:
            steps.append(T.RandomHorizontalFlip(self.hflip))
        if self.vflip > 0:
            steps.append(T.RandomVerticalFlip(self.vflip))
        if self.perspective > 0:
            steps.append(T.RandomPerspective(0.2, p=self.perspective))
        if self.jitter > 0:
            steps.append(T.ColorJitter(self.jitter, self.jitter, self.jitter, self.hue))
        if self.blur > 0:
            steps.append(T.RandomApply([T.GaussianBlur(5, (0.1, 1.5))], p=self.blur))
        return T.Compose(steps)
