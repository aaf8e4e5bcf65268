"""Exact, chunked ranking of a gallery for each query: which ranked items are relevant, and how many exist.

Ranking rule (documented in docs/quality.md): gallery items are ordered by descending inner product; equal scores
are ordered by gallery position (lower index first), so every ranking is deterministic and the same on every
machine. The rule is implemented with one int64 sort key per (query, item) pair: the order-preserving bits of the
float32 score in the high word, the item index in the low word. Keys are unique, so a partial sort is exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

#: elements (queries x gallery items) held in memory per chunk
CHUNK_ELEMENTS = 8_000_000


@dataclass
class RankedChunk:
    """Ranked relevance for a block of queries (rows) starting at query `start`."""

    start: int
    rel: np.ndarray         # bool (n, depth): is the item at rank r+1 relevant
    n_rel: np.ndarray       # int64 (n,): relevant items in the gallery (after exclusion)
    first_rank: np.ndarray  # int64 (n,): 1-based rank of the first relevant item, 0 if none
    order: np.ndarray       # int64 (n, depth): gallery index of the item at each rank
    scores: np.ndarray      # float32 (n, depth): score of the item at each rank


def encode_labels(query_labels, gallery_labels) -> tuple[np.ndarray, np.ndarray]:
    """Map both label arrays onto shared integer codes (equal labels get equal codes)."""
    q = np.asarray(query_labels)
    g = np.asarray(gallery_labels)
    if q.dtype.kind != g.dtype.kind:
        q, g = q.astype(str), g.astype(str)
    _, codes = np.unique(np.concatenate([q, g]), return_inverse=True)
    codes = codes.reshape(-1)
    return codes[: len(q)].astype(np.int64), codes[len(q):].astype(np.int64)


def sort_keys(scores: np.ndarray) -> np.ndarray:
    """int64 keys whose ascending order is (descending score, ascending gallery index)."""
    s = np.ascontiguousarray(scores, dtype=np.float32) + np.float32(0.0)  # -0.0 becomes +0.0
    bits = s.view(np.int32)
    ordered = bits ^ ((bits >> 31) & np.int32(0x7FFFFFFF))  # monotone in the float value
    desc = ~ordered  # reverses the order: higher score -> smaller key
    idx = np.arange(s.shape[1], dtype=np.int64)
    return (desc.astype(np.int64) << 32) | idx


def key_scores(keys: np.ndarray) -> np.ndarray:
    """The float32 scores encoded in sort keys (the inverse of sort_keys, without the index)."""
    ordered = ~(keys >> 32).astype(np.int32)
    bits = ordered ^ ((ordered >> 31) & np.int32(0x7FFFFFFF))
    return bits.view(np.float32)


def group_max(scores: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Per row, the max score over the columns of each group (a product's images); groups are codes 0..n-1."""
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    out = np.full((scores.shape[0], n_groups), -np.inf, dtype=np.float32)
    out[:, sorted_groups[starts]] = np.maximum.reduceat(scores[:, order], starts, axis=1)
    return out


def rank_chunks(query_vecs: np.ndarray, query_codes: np.ndarray, gallery_vecs: np.ndarray,
                gallery_codes: np.ndarray, depth: int, exclude: np.ndarray | None = None,
                gallery_groups: np.ndarray | None = None) -> Iterator[RankedChunk]:
    """Rank the gallery for every query, in chunks; yields the top-`depth` relevance of each query.

    gallery_groups: optional code per gallery vector; scores are then max-pooled per group and the groups are
    the ranked items (gallery_codes then has one entry per group). exclude: per query, the item index to leave
    out (-1 for none); an excluded item is ranked last and never counted as relevant.
    """
    q = np.asarray(query_vecs, dtype=np.float32)
    g = np.asarray(gallery_vecs, dtype=np.float32)
    n_items = len(gallery_codes)
    n_groups = n_items
    if exclude is not None and len(exclude) and (np.asarray(exclude) >= 0).all():
        n_items -= 1  # every query loses one item: ranks never reach the last (excluded) position
    depth = max(0, min(depth, n_items))
    n_codes = int(max(query_codes.max(initial=0), gallery_codes.max(initial=0))) + 1
    counts = np.bincount(gallery_codes, minlength=n_codes)
    step = max(1, CHUNK_ELEMENTS // max(1, g.shape[0]))
    for start in range(0, len(q), step):
        stop = min(len(q), start + step)
        scores = q[start:stop] @ g.T
        if gallery_groups is not None:
            scores = group_max(scores, gallery_groups, n_groups)
        yield _rank_block(start, scores, query_codes[start:stop], gallery_codes, counts, depth,
                          None if exclude is None else exclude[start:stop])


def _rank_block(start: int, scores: np.ndarray, qcodes: np.ndarray, gcodes: np.ndarray, counts: np.ndarray,
                depth: int, exclude: np.ndarray | None) -> RankedChunk:
    """Rank one block of score rows."""
    rows = np.arange(len(scores))
    relmask = qcodes[:, None] == gcodes[None, :]
    n_rel = counts[qcodes].astype(np.int64)
    if exclude is not None:
        has = exclude >= 0
        scores[rows[has], exclude[has]] = -np.inf
        n_rel -= has & relmask[rows, np.where(has, exclude, 0)]
        relmask[rows[has], exclude[has]] = False
    keys = sort_keys(scores)
    if exclude is not None:  # -inf ties with other -inf items; push the excluded item after all of them
        keys[rows[has], exclude[has]] = np.iinfo(np.int64).max
    best = np.where(relmask, keys, np.iinfo(np.int64).max).min(axis=1)
    first_rank = np.where(n_rel > 0, (keys < best[:, None]).sum(axis=1) + 1, 0).astype(np.int64)
    if 0 < depth < keys.shape[1]:
        top = np.sort(np.partition(keys, depth - 1, axis=1)[:, :depth], axis=1)
    else:
        top = np.sort(keys, axis=1)[:, :depth]
    order = top & np.int64(0xFFFFFFFF)
    rel = relmask[rows[:, None], order]
    return RankedChunk(start, rel, n_rel, first_rank, order, key_scores(top))
