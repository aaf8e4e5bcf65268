"""Search: images or products in, products out (a product scores the best of its images)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import BadInput, NotFound
from .index.build import load_index
from .store import VIEWS_PER_IMAGE, image_of
from .workspace import Workspace

COMBINE = ("mean", "max")


@dataclass
class Hit:
    """One product in a result list."""

    rank: int
    product_id: str
    score: float
    image_id: int
    metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-friendly form."""
        return {"rank": self.rank, "id": self.product_id, "score": round(self.score, 6),
                "image_id": self.image_id, "metadata": self.metadata}


def parse_filters(items: list[str] | None) -> dict[str, set[str]]:
    """['category=Fruit,Vegetables', 'colour=red'] -> {'category': {...}, 'colour': {...}}; keys AND, values OR."""
    out: dict[str, set[str]] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"filter {item!r} is not key=value; for example --filter category=Fruit")
        out.setdefault(key.strip(), set()).update(v.strip() for v in value.split(","))
    return out


def matches(metadata: dict, filters: dict[str, set[str]]) -> bool:
    """True when every filter key has one of its values in the metadata."""
    return all(str(metadata.get(k, "")) in vals for k, vals in filters.items())


class Searcher:
    """Holds one model's index and the catalog maps that turn image hits into products."""

    def __init__(self, ws: Workspace, model: str | None = None, export: bool = True):
        self.ws = ws
        self.model = model or ws.default_model
        #: whether opening the query model may export it to ONNX (needs torch); serving passes False
        self.export = export
        self.index, self.info = load_index(ws.index_dir, self.model)
        cat = ws.catalog
        self.image_product = cat.image_products()
        self.metadata = cat.products()
        self._embedder = None
        self._originals: tuple[np.ndarray, dict[str, np.ndarray]] | None = None
        self._all_ids: np.ndarray | None = None
        self._allowed_cache: dict[tuple, np.ndarray] = {}

    @property
    def embedder(self):
        """The model that embeds query photos (opened on first use)."""
        if self._embedder is None:
            self._embedder = self.ws.embedder(self.model, export=self.export)
        return self._embedder

    def warm(self) -> "Searcher":
        """Read from SQLite now what queries need, so the first query is not slow; returns self."""
        self.vector_ids()
        self.original_vectors()
        return self

    def reuse_embedder(self, other: "Searcher") -> None:
        """Share the query model another Searcher of the same model has already opened (one ONNX session)."""
        if other._embedder is not None and other.model == self.model:
            self._embedder = other._embedder

    # -- queries -----------------------------------------------------------
    def search_images(self, imgs: list, k: int = 10, filters: dict | None = None, combine: str = "mean") -> list[Hit]:
        """Products that look like these photos (several photos are combined)."""
        if not imgs:
            raise BadInput("give at least one query image")
        return self.search_vectors(self.embedder.embed(imgs), k, filters, combine=combine)

    def similar(self, product_id: str, k: int = 10, filters: dict | None = None) -> list[Hit]:
        """Products similar to a catalog product, excluding itself."""
        if product_id not in self.metadata:
            raise NotFound(f"product {product_id!r} not found. List products with: lookalike products")
        vecs = self.product_vectors(product_id)
        return self.search_vectors(vecs, k, filters, exclude={product_id})

    def product_vectors(self, product_id: str) -> np.ndarray:
        """The original-view vectors of a product's images."""
        vecs, rows = self.original_vectors()
        found = rows.get(product_id)
        if found is None:
            raise NotFound(f"product {product_id!r} has no embedded image. Run: lookalike index --model {self.model}")
        return vecs[found]

    def original_vectors(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """All original-view vectors and each product's rows in them, read from SQLite once per Searcher."""
        if self._originals is None:
            ids, vecs = self.ws.catalog.embeddings(self.model, views=[0])
            rows: dict[str, list[int]] = {}
            for row, img in enumerate(image_of(ids)):
                pid = self.image_product.get(int(img))
                if pid is not None:
                    rows.setdefault(pid, []).append(row)
            self._originals = (vecs, {pid: np.asarray(r, dtype=np.int64) for pid, r in rows.items()})
        return self._originals

    def search_vectors(self, qvecs: np.ndarray, k: int = 10, filters: dict | None = None,
                       exclude: set[str] | None = None, combine: str = "mean") -> list[Hit]:
        """Top-k products for one or several query vectors."""
        if combine not in COMBINE:
            raise BadInput(f"unknown combine mode {combine!r}; use one of {', '.join(COMBINE)}")
        if k < 1:
            raise BadInput(f"k must be at least 1, got {k}")
        qvecs = combine_queries(qvecs, combine)
        allowed = self.allowed_ids(filters) if filters else None
        best = self._product_scores(qvecs, k, allowed, exclude or set())
        return self.ranked_hits(best, k)

    def ranked_hits(self, best: dict[str, tuple[float, int]], k: int) -> list[Hit]:
        """The k best products as Hits, ties broken by product id."""
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))[:k]
        return [Hit(i + 1, pid, s, img, self.metadata.get(pid, {})) for i, (pid, (s, img)) in enumerate(ranked)]

    def allowed_ids(self, filters: dict) -> np.ndarray:
        """Vector ids of the products matching the filters (cached per filter: metadata is fixed per Searcher)."""
        key = tuple(sorted((k, tuple(sorted(v))) for k, v in filters.items()))
        found = self._allowed_cache.get(key)
        if found is None:
            wanted = {pid for pid, meta in self.metadata.items() if matches(meta, filters)}
            ids = self.vector_ids()
            found = ids[np.array([self.image_product.get(int(i)) in wanted for i in image_of(ids)], dtype=bool)]
            if len(self._allowed_cache) >= 64:
                self._allowed_cache.clear()
            self._allowed_cache[key] = found
        return found

    def vector_ids(self) -> np.ndarray:
        """Every vector id of this model (all views), read from SQLite once per Searcher."""
        if self._all_ids is None:
            self._all_ids, _ = self.ws.catalog.embeddings(self.model)
        return self._all_ids

    def _product_scores(self, qvecs, k, allowed, exclude) -> dict[str, tuple[float, int]]:
        """Grow the image-level k until k distinct products are found or the index is exhausted."""
        limit = len(self.index) if allowed is None else len(allowed)
        k_img = first_depth(k, len(exclude), limit)
        while True:
            scores, ids = self.index.search(qvecs, k_img, allowed)
            best = self.best_products(scores, ids, exclude)
            if len(best) >= k or k_img >= limit:
                return best
            k_img = min(k_img * 4, limit)

    def best_products(self, scores: np.ndarray, ids: np.ndarray, exclude: set[str]) -> dict[str, tuple[float, int]]:
        """Each product's best (score, image id) over image-level hits, leaving out excluded products."""
        best: dict[str, tuple[float, int]] = {}
        for row_s, row_i in zip(scores, ids):
            for s, vid in zip(row_s, row_i):
                if vid < 0:
                    continue
                img = int(vid) // VIEWS_PER_IMAGE
                pid = self.image_product.get(img)
                if pid is None or pid in exclude:
                    continue
                if pid not in best or s > best[pid][0]:
                    best[pid] = (float(s), img)
        return best


def first_depth(k: int, n_exclude: int, limit: int) -> int:
    """How many image hits to ask the index for first, to likely cover k distinct products."""
    return min(max(k * 4 + n_exclude * 8, 32), max(limit, 1))


def combine_queries(qvecs: np.ndarray, combine: str = "mean") -> np.ndarray:
    """Several query vectors as the index sees them: 'mean' averages and re-normalises, 'max' keeps each row."""
    qvecs = np.atleast_2d(np.asarray(qvecs, dtype=np.float32))
    if combine == "mean" and len(qvecs) > 1:
        q = qvecs.mean(axis=0, keepdims=True)
        qvecs = q / max(float(np.linalg.norm(q)), 1e-12)
    return qvecs
