"""Evaluation protocols: which images are queries, what the gallery holds, what counts as relevant.

Items. Queries are always single images (the original view, view 0). Gallery items are images (unit "image",
the default) or products (unit "product": a product scores the max over its images' scores). In the workspaces
built from grocery_store or fashion_product_224 every image is its own product, so the two units agree.

Relevance. Gallery item and query are relevant when they share the value of one column: "id" (the product id)
or any metadata column (instance_id, label, articleType, ...). A product without that column is never relevant.

Exclusion. A query never retrieves itself: the gallery item holding the query image (the image, or under unit
"product" the query's whole product) is left out of that query's ranking. Leave-one-out uses the query set as the
gallery; otherwise query and gallery sets are chosen separately by metadata expressions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import BadInput, NotFound
from ..store import image_of
from ..workspace import Workspace

UNITS = ("image", "product")


@dataclass
class Condition:
    """One `key=v1,v2` (value in set) or `key!=v1,v2` (value not in set) test on product metadata."""

    key: str
    values: frozenset
    negate: bool = False

    def __call__(self, meta: dict) -> bool:
        """True when the metadata passes."""
        return (str(meta.get(self.key, "")) in self.values) != self.negate


def parse_selection(expr: str | list[str] | None) -> list[Condition]:
    """'split=test' / 'domain!=iconic' / 'split=test & group=Fruit' (or a list of them) -> conditions (ANDed)."""
    items = [expr] if isinstance(expr, str) else list(expr or [])
    out: list[Condition] = []
    for item in items:
        for part in (p.strip() for p in item.split("&")):
            if not part:
                continue
            negate = "!=" in part
            key, sep, value = part.partition("!=" if negate else "=")
            if not sep or not key.strip():
                raise BadInput(f"selection {part!r} is not key=value or key!=value; for example --query split=test")
            out.append(Condition(key.strip(), frozenset(v.strip() for v in value.split(",")), negate))
    return out


def selected(meta: dict, conditions: list[Condition]) -> bool:
    """True when metadata passes every condition."""
    return all(c(meta) for c in conditions)


@dataclass
class Protocol:
    """What to evaluate: query/gallery selections, the relevance column, leave-one-out, the gallery unit."""

    relevant: str = "id"
    query: list[str] = field(default_factory=list)
    gallery: list[str] = field(default_factory=list)
    leave_one_out: bool = False
    unit: str = "image"

    def to_dict(self) -> dict:
        """Plain form for metrics.json."""
        return {"relevant": self.relevant, "query": self.query, "gallery": self.gallery,
                "leave_one_out": self.leave_one_out, "unit": self.unit}


@dataclass
class EvalSet:
    """Concrete queries and gallery for one protocol, shared by every compared model."""

    query_images: np.ndarray      # int64 image ids
    query_labels: np.ndarray      # str, relevance value per query
    query_products: list[str]
    gallery_images: np.ndarray    # int64 image ids, one per gallery vector
    gallery_items: list[str]      # item ids: image id (unit image) or product id (unit product)
    gallery_labels: np.ndarray    # str, per item
    gallery_products: list[str]   # product id per item
    gallery_groups: np.ndarray | None  # item index per gallery vector (unit product), else None
    exclude: np.ndarray           # int64 item index to leave out per query, -1 for none
    dropped: dict = field(default_factory=dict)

    @property
    def gallery_item_images(self) -> np.ndarray:
        """One representative image id per gallery item (its first image), for pictures."""
        if self.gallery_groups is None:
            return self.gallery_images
        first = np.full(len(self.gallery_items), -1, dtype=np.int64)
        for img, grp in zip(self.gallery_images[::-1], self.gallery_groups[::-1]):
            first[grp] = img
        return first


def _label(meta: dict, pid: str, column: str, missing: str) -> str:
    if column in ("id", "product_id"):
        return pid
    value = meta.get(column)
    return missing if value is None or value == "" else str(value)


def embedded_images(ws: Workspace, models: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per model: (image ids, vecs) of the original view; tells the user how to embed a missing model."""
    out = {}
    for m in models:
        ids, vecs = ws.catalog.embeddings(m, views=[0])
        if len(ids) == 0:
            known = ", ".join(ws.catalog.embedded_models()) or "none yet"
            raise NotFound(f"no embeddings of model {m!r} in workspace {ws.root} (embedded here: {known}). "
                           f"Run: lookalike index -w {ws.root} --model {m}")
        out[m] = (image_of(ids), vecs)
    return out


def build_eval_set(ws: Workspace, protocol: Protocol, image_ids: np.ndarray) -> EvalSet:
    """Select queries and gallery among `image_ids` (those embedded by every model) and label them."""
    if protocol.unit not in UNITS:
        raise BadInput(f"unit {protocol.unit!r} is unknown; use one of: {', '.join(UNITS)}")
    cat = ws.catalog
    owner = cat.image_products(np.zeros(0))
    meta = cat.products()
    _check_column(protocol.relevant, meta)
    qcond, gcond = parse_selection(protocol.query), parse_selection(protocol.gallery)
    if protocol.leave_one_out and protocol.gallery:
        raise BadInput("--leave-one-out uses the query set as the gallery; drop --gallery or drop --leave-one-out")
    if protocol.leave_one_out:
        gcond = qcond
    images = np.sort(np.asarray(image_ids, dtype=np.int64))
    pids = [owner[int(i)] for i in images]
    qmask = np.array([selected(meta[p], qcond) for p in pids], dtype=bool)
    gmask = np.array([selected(meta[p], gcond) for p in pids], dtype=bool)
    if not qmask.any():
        raise BadInput(f"no embedded image matches the query selection {protocol.query!r}; "
                       "check the column and value with: lookalike products")
    if not gmask.any():
        raise BadInput(f"no embedded image matches the gallery selection {protocol.gallery!r}")
    qimg = images[qmask]
    qpids = [pids[i] for i in np.flatnonzero(qmask)]
    qlabels = np.array([_label(meta[p], p, protocol.relevant, f"\0missing-query:{n}")
                        for n, p in enumerate(qpids)])
    gimg = images[gmask]
    gpids = [pids[i] for i in np.flatnonzero(gmask)]
    return _gallery(protocol, meta, qimg, qlabels, qpids, gimg, gpids, len(images))


def _gallery(protocol: Protocol, meta: dict, qimg, qlabels, qpids, gimg, gpids, n_embedded: int) -> EvalSet:
    """Group the gallery into items and find each query's own item."""
    if protocol.unit == "product":
        items = sorted(set(gpids))
        pos = {p: i for i, p in enumerate(items)}
        groups = np.array([pos[p] for p in gpids], dtype=np.int64)
        exclude = np.array([pos.get(p, -1) for p in qpids], dtype=np.int64)
        item_pids = items
    else:
        items = [str(int(i)) for i in gimg]
        groups = None
        pos = {int(i): n for n, i in enumerate(gimg)}
        exclude = np.array([pos.get(int(i), -1) for i in qimg], dtype=np.int64)
        item_pids = gpids
    glabels = np.array([_label(meta[p], p, protocol.relevant, f"\0missing-item:{n}")
                        for n, p in enumerate(item_pids)])
    return EvalSet(qimg, qlabels, list(qpids), gimg, items, glabels, list(item_pids), groups, exclude,
                   {"embedded_images": n_embedded})


def _check_column(column: str, meta: dict) -> None:
    if column in ("id", "product_id"):
        return
    columns = sorted({k for m in meta.values() for k in m})
    if column not in columns:
        raise BadInput(f"column {column!r} is not in the product metadata; columns are: {', '.join(columns)}. "
                       f"Use --relevant with one of them, or --relevant id")


def model_vectors(images_vecs: tuple[np.ndarray, np.ndarray], wanted: np.ndarray) -> np.ndarray:
    """The rows of a model's (image ids, vecs) for the wanted image ids, in that order."""
    ids, vecs = images_vecs
    order = np.argsort(ids)
    pos = order[np.searchsorted(ids, wanted, sorter=order)]
    if len(wanted) and not np.array_equal(ids[pos], wanted):
        raise NotFound("an evaluated image has no embedding for this model; re-run lookalike index")
    return vecs[pos]
