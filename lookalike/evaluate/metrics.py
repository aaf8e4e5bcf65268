"""Retrieval metrics as pure, vectorised functions of ranked relevance.

Every metric takes `rel` (bool, queries x ranks: is the item at rank r+1 relevant) and `n_rel` (relevant items
in the gallery per query) and returns one float per query. Conventions, shared by all metrics:

- A query with no relevant item in the gallery gets NaN; averages skip NaN (`mean_valid`), and the report counts
  such queries separately.
- k larger than the gallery is clipped to the gallery size (`rel` holds at most that many ranks), so precision@k
  divides by min(k, gallery size).
- Ties in score are broken by gallery position (see ranking.py), so results are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ranking import encode_labels, rank_chunks

DEFAULT_KS = (1, 5, 10, 20)


def _valid(n_rel: np.ndarray) -> np.ndarray:
    return np.asarray(n_rel) > 0


def _clip(rel: np.ndarray, k: int) -> int:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return min(k, rel.shape[1])


def recall_at_k(rel: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    """1.0 if any of the top k is relevant, else 0.0 (the CMC value at k); NaN without relevant items."""
    hit = rel[:, : _clip(rel, k)].any(axis=1).astype(np.float64)
    return np.where(_valid(n_rel), hit, np.nan)


def precision_at_k(rel: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    """Fraction of the top min(k, gallery) items that are relevant."""
    kk = _clip(rel, k)
    prec = rel[:, :kk].sum(axis=1) / kk if kk else np.zeros(len(rel))
    return np.where(_valid(n_rel), prec, np.nan)


def _precision_at_each_rank(rel: np.ndarray) -> np.ndarray:
    ranks = np.arange(1, rel.shape[1] + 1)
    return np.cumsum(rel, axis=1) / ranks


def average_precision_at_k(rel: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    """AP@k: sum over relevant ranks i <= k of precision@i, divided by min(k, n_rel) (the best reachable)."""
    kk = _clip(rel, k)
    r = rel[:, :kk]
    num = (_precision_at_each_rank(r) * r).sum(axis=1)
    den = np.minimum(kk, n_rel)
    return np.where(_valid(n_rel), num / np.maximum(den, 1), np.nan)


def _need_depth(rel: np.ndarray, n_rel: np.ndarray) -> None:
    if len(n_rel) and n_rel.max() > rel.shape[1]:
        raise ValueError(f"rel holds {rel.shape[1]} ranks but a query has {n_rel.max()} relevant items")


def map_at_r(rel: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
    """MAP@R (Musgrave et al. 2020): with R = n_rel, sum over relevant ranks i <= R of precision@i, over R."""
    _need_depth(rel, n_rel)
    within = np.arange(rel.shape[1])[None, :] < np.asarray(n_rel)[:, None]
    r = rel & within
    num = (_precision_at_each_rank(rel) * r).sum(axis=1)
    return np.where(_valid(n_rel), num / np.maximum(n_rel, 1), np.nan)


def r_precision(rel: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
    """Fraction of the top R items that are relevant, with R = n_rel."""
    _need_depth(rel, n_rel)
    within = np.arange(rel.shape[1])[None, :] < np.asarray(n_rel)[:, None]
    return np.where(_valid(n_rel), (rel & within).sum(axis=1) / np.maximum(n_rel, 1), np.nan)


def ndcg_at_k(rel: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    """NDCG@k with binary gains and log2 discounts; the ideal puts min(k, n_rel) relevant items first."""
    kk = _clip(rel, k)
    disc = 1.0 / np.log2(np.arange(2, kk + 2))
    dcg = (rel[:, :kk] * disc).sum(axis=1)
    ideal = np.concatenate([[0.0], np.cumsum(disc)])[np.minimum(kk, n_rel)]
    return np.where(_valid(n_rel), dcg / np.where(ideal > 0, ideal, 1.0), np.nan)


def cmc_curve(first_rank: np.ndarray, n_rel: np.ndarray, max_rank: int) -> np.ndarray:
    """CMC: for k = 1..max_rank, the fraction of valid queries whose first relevant item is at rank <= k."""
    valid = _valid(n_rel)
    if not valid.any():
        return np.full(max_rank, np.nan)
    hist = np.bincount(np.asarray(first_rank)[valid], minlength=max_rank + 1)[1: max_rank + 1]
    return np.cumsum(hist) / valid.sum()


def mean_valid(values: np.ndarray) -> float:
    """Mean over queries that have a value (NaN marks a query with no relevant item)."""
    v = np.asarray(values, dtype=np.float64)
    ok = ~np.isnan(v)
    return float(v[ok].mean()) if ok.any() else float("nan")


def per_query_metrics(rel: np.ndarray, n_rel: np.ndarray, ks=DEFAULT_KS, with_r: bool = True) -> dict[str, np.ndarray]:
    """Every metric, per query: recall@k, precision@k, map@k, ndcg@k for each k, plus map@r and r_precision."""
    out: dict[str, np.ndarray] = {}
    for k in ks:
        out[f"recall@{k}"] = recall_at_k(rel, n_rel, k)
    for k in ks:
        out[f"precision@{k}"] = precision_at_k(rel, n_rel, k)
        out[f"map@{k}"] = average_precision_at_k(rel, n_rel, k)
        out[f"ndcg@{k}"] = ndcg_at_k(rel, n_rel, k)
    if with_r:
        out["map@r"] = map_at_r(rel, n_rel)
        out["r_precision"] = r_precision(rel, n_rel)
    return out


@dataclass
class QueryScores:
    """Per-query metric values and rankings for one model over one protocol."""

    values: dict[str, np.ndarray]
    n_rel: np.ndarray
    first_rank: np.ndarray
    top: np.ndarray           # int64 (queries, max k): gallery item index at each rank
    top_scores: np.ndarray    # float32 (queries, max k): its score

    def summary(self) -> dict[str, float]:
        """Mean of each metric over queries that have at least one relevant item."""
        return {name: mean_valid(v) for name, v in self.values.items()}


def score_queries(query_vecs: np.ndarray, query_labels, gallery_vecs: np.ndarray, gallery_labels,
                  ks=DEFAULT_KS, exclude: np.ndarray | None = None, gallery_groups: np.ndarray | None = None,
                  with_r: bool = True) -> QueryScores:
    """Rank the gallery for every query (exact, chunked) and compute every metric per query."""
    ks = tuple(sorted({int(k) for k in ks}))
    qcodes, gcodes = encode_labels(query_labels, gallery_labels)
    depth = max(ks)
    if with_r:
        depth = max(depth, int(np.bincount(gcodes).max(initial=0)) if len(gcodes) else 0)
    parts: dict[str, list] = {}
    n_rel, first, top, top_scores = [], [], [], []
    for chunk in rank_chunks(query_vecs, qcodes, gallery_vecs, gcodes, depth, exclude, gallery_groups):
        for name, v in per_query_metrics(chunk.rel, chunk.n_rel, ks, with_r).items():
            parts.setdefault(name, []).append(v)
        n_rel.append(chunk.n_rel)
        first.append(chunk.first_rank)
        top.append(chunk.order[:, : max(ks)])
        top_scores.append(chunk.scores[:, : max(ks)])
    return QueryScores({k: _cat(v) for k, v in parts.items()}, _cat(n_rel).astype(np.int64),
                       _cat(first).astype(np.int64), np.concatenate(top) if top else np.zeros((0, 0), np.int64),
                       np.concatenate(top_scores) if top else np.zeros((0, 0), np.float32))


def _cat(parts: list) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0)


def knn_recall(query_vecs: np.ndarray, query_labels, gallery_vecs: np.ndarray, gallery_labels,
               ks=(1, 5), exclude_self: bool = False) -> dict[int, float]:
    """Recall@k for each k: the fraction of queries with a relevant (same-label) item among their top k.

    Vectors are L2-normalised float32; ranking is by inner product. exclude_self=True leaves gallery item i out
    of query i's ranking (leave-one-out on one set). Queries with no relevant gallery item are left out.
    """
    if exclude_self and len(query_vecs) != len(gallery_vecs):
        raise ValueError(f"exclude_self needs the same set on both sides; got {len(query_vecs)} queries "
                         f"and {len(gallery_vecs)} gallery vectors")
    exclude = np.arange(len(query_vecs)) if exclude_self else None
    scores = score_queries(query_vecs, query_labels, gallery_vecs, gallery_labels, ks, exclude, with_r=False)
    return {int(k): mean_valid(scores.values[f"recall@{k}"]) for k in ks}
