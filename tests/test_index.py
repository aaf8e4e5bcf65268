"""Index backends against the exact numpy oracle, on synthetic clustered vectors with known neighbours."""

from __future__ import annotations

import numpy as np
import pytest

from lookalike.embedders.preprocess import l2_normalize
from lookalike.errors import BadInput
from lookalike.index import backend_class, list_backends


def clustered(n=2000, d=32, clusters=40, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, d))
    labels = rng.integers(0, clusters, n)
    return l2_normalize(centres[labels] + 0.3 * rng.normal(size=(n, d))), labels


def oracle(vecs, ids, q, k):
    s = q @ vecs.T
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(s, order, 1), ids[order]


def test_exact_matches_oracle_and_survives_save_load(tmp_path):
    vecs, _ = clustered()
    ids = np.arange(len(vecs), dtype=np.int64) * 16 + 3
    idx = backend_class("faiss")(vecs.shape[1])
    idx.add(ids, vecs)
    q = vecs[:50]
    s, i = idx.search(q, 10)
    os_, oi = oracle(vecs, ids, q, 10)
    np.testing.assert_allclose(s, os_, atol=1e-5)
    assert (i[:, 0] == oi[:, 0]).all()
    idx.save(tmp_path / "x.index")
    s2, i2 = type(idx).load(tmp_path / "x.index").search(q, 10)
    assert (i2 == i).all()


def test_remove_and_allowed_ids():
    vecs, _ = clustered(200)
    ids = np.arange(200, dtype=np.int64)
    idx = backend_class("faiss")(vecs.shape[1])
    idx.add(ids, vecs)
    assert idx.remove(np.array([0, 1, 2])) == 3 and len(idx) == 197
    s, i = idx.search(vecs[:1], 5)
    assert 0 not in i
    allowed = np.array([10, 20, 30], dtype=np.int64)
    s, i = idx.search(vecs[:1], 5, allowed=allowed)
    assert set(i[0][:3]) == {10, 20, 30} and (i[0][3:] == -1).all() and np.isinf(s[0][3:]).all()


def test_k_larger_than_index_pads_with_minus_one():
    vecs, _ = clustered(5)
    idx = backend_class("faiss")(vecs.shape[1])
    idx.add(np.arange(5), vecs)
    s, i = idx.search(vecs[:2], 8)
    assert i.shape == (2, 8) and (i[:, 5:] == -1).all()


def test_hnsw_recall_against_exact():
    vecs, _ = clustered(3000)
    ids = np.arange(3000, dtype=np.int64)
    exact, approx = backend_class("faiss")(32), backend_class("faiss-hnsw")(32)
    exact.add(ids, vecs)
    approx.add(ids, vecs)
    q = vecs[::30]
    _, ei = exact.search(q, 10)
    _, ai = approx.search(q, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(ai, ei)])
    assert recall > 0.9
    assert approx.remove(ids[:100]) == 100 and len(approx) == 2900
    _, ai = approx.search(vecs[:5], 3)
    assert (ai >= 100).all()


def test_bad_inputs_name_the_fix():
    idx = backend_class("faiss")(8)
    with pytest.raises(BadInput, match="dimension 4"):
        idx.search(np.zeros((1, 4), np.float32), 3)
    with pytest.raises(BadInput, match="k must be"):
        idx.search(np.zeros((1, 8), np.float32), 0)
    with pytest.raises(BadInput, match="valid backends: " + ", ".join(list_backends())):
        backend_class("annoy")
