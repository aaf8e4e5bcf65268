"""Each retrieval metric against a naive-loop oracle, hand-computed cases, and independent implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lookalike.evaluate import metrics as M
from lookalike.evaluate.bootstrap import bootstrap_ci, paired_ci
from lookalike.evaluate.ranking import encode_labels, group_max


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


# ---- the oracle: plain Python loops over explicit rankings -------------------------------------------------


def oracle_rankings(q, ql, g, gl, exclude_self=False):
    """Per query: the relevance list in rank order (ties by gallery index) and the relevant count."""
    out = []
    matrix = q @ g.T  # the same float32 products as the code under test, so exact ties stay exact
    for i in range(len(q)):
        items = [j for j in range(len(g)) if not (exclude_self and j == i)]
        scores = {j: float(matrix[i, j]) for j in items}
        ranked = sorted(items, key=lambda j: (-scores[j], j))
        rels = [gl[j] == ql[i] for j in ranked]
        out.append((rels, sum(rels)))
    return out


def oracle_metric(name, rels, n_rel, k=None):
    """One metric for one query, written from its textbook definition."""
    if n_rel == 0:
        return math.nan
    if k is not None:
        k = min(k, len(rels))
    if name == "recall":
        return float(any(rels[:k]))
    if name == "precision":
        return sum(rels[:k]) / k
    if name in ("map@k", "map@r"):
        depth = k if name == "map@k" else n_rel
        hits, total = 0, 0.0
        for i in range(depth):
            if rels[i]:
                hits += 1
                total += hits / (i + 1)
        return total / (min(k, n_rel) if name == "map@k" else n_rel)
    if name == "r_precision":
        return sum(rels[:n_rel]) / n_rel
    if name == "ndcg":
        dcg = sum(1 / math.log2(i + 2) for i in range(k) if rels[i])
        return dcg / sum(1 / math.log2(i + 2) for i in range(min(k, n_rel)))
    raise KeyError(name)


def check_against_oracle(q, ql, g, gl, ks, exclude_self=False):
    exclude = np.arange(len(q)) if exclude_self else None
    got = M.score_queries(q, ql, g, gl, ks, exclude)
    for i, (rels, n_rel) in enumerate(oracle_rankings(q, ql, g, gl, exclude_self)):
        assert got.n_rel[i] == n_rel
        expect = {name: oracle_metric(name, rels, n_rel) for name in ("map@r", "r_precision")}
        for k in ks:
            for short, name in (("recall", "recall"), ("precision", "precision"), ("map@k", "map"), ("ndcg", "ndcg")):
                expect[f"{name}@{k}"] = oracle_metric(short, rels, n_rel, k)
        for name, value in expect.items():
            np.testing.assert_allclose(got.values[name][i], value, rtol=1e-9, atol=1e-12, err_msg=f"{name} q{i}")
        first = rels.index(True) + 1 if n_rel else 0
        assert got.first_rank[i] == first


# ---- hand-computed cases -----------------------------------------------------------------------------------


def test_hand_computed_row():
    rel = np.array([[True, False, True, False]])
    n_rel = np.array([3])
    assert M.recall_at_k(rel, n_rel, 1)[0] == 1.0
    assert M.precision_at_k(rel, n_rel, 5)[0] == 0.5  # k=5 > 4 ranks: clipped to 4
    assert M.average_precision_at_k(rel, n_rel, 4)[0] == pytest.approx((1 + 2 / 3) / 3)
    assert M.map_at_r(rel, n_rel)[0] == pytest.approx((1 + 2 / 3) / 3)
    assert M.r_precision(rel, n_rel)[0] == pytest.approx(2 / 3)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert M.ndcg_at_k(rel, n_rel, 4)[0] == pytest.approx((1 + 1 / math.log2(4)) / ideal)


def test_no_relevant_item_is_nan_and_skipped_in_mean():
    rel = np.array([[False, False], [False, True]])
    n_rel = np.array([0, 1])
    for fn in (M.map_at_r, M.r_precision):
        assert np.isnan(fn(rel, n_rel)[0])
    r1 = M.recall_at_k(rel, n_rel, 2)
    assert np.isnan(r1[0]) and r1[1] == 1.0
    assert M.mean_valid(r1) == 1.0
    assert math.isnan(M.mean_valid(np.array([np.nan])))
    np.testing.assert_allclose(M.cmc_curve(np.array([0, 2]), n_rel, 3), [0.0, 1.0, 1.0])


def test_ties_are_broken_by_gallery_position():
    # gallery items 0 and 1 are identical; item 1 is the relevant one, so it ranks second
    g = unit(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    got = M.score_queries(g[:1], ["b"], g, ["a", "b", "b"], ks=(1, 2))
    assert got.values["recall@1"][0] == 0.0 and got.values["recall@2"][0] == 1.0
    assert got.first_rank[0] == 2
    assert list(got.top[0]) == [0, 1]
    # reversing the gallery order reverses the tie
    got = M.score_queries(g[:1], ["b"], g[[1, 0, 2]], ["b", "a", "b"], ks=(1,))
    assert got.values["recall@1"][0] == 1.0


def test_k_larger_than_gallery_and_leave_one_out():
    g = unit(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]))
    got = M.score_queries(g, ["x", "x", "y"], g, ["x", "x", "y"], ks=(1, 50), exclude=np.arange(3))
    # two ranks remain once the query itself is out; precision@50 divides by 2
    assert got.top.shape == (3, 2)
    np.testing.assert_allclose(got.values["precision@50"], [0.5, 0.5, np.nan])
    np.testing.assert_allclose(got.values["recall@1"], [1.0, 1.0, np.nan])
    assert got.n_rel.tolist() == [1, 1, 0]


def test_knn_recall_contract():
    g = unit(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]]))
    labels = np.array([1, 1, 2, 2])
    assert M.knn_recall(g, labels, g, labels, ks=(1,), exclude_self=True) == {1: 1.0}
    assert M.knn_recall(g, labels, g, np.array([2, 2, 1, 1]), ks=(1, 3), exclude_self=True) == {1: 0.0, 3: 1.0}
    assert M.knn_recall(g[:2], ["a", "b"], g, ["b", "a", "a", "a"], ks=(1,)) == {1: 0.0}


# ---- random data, with and without ties --------------------------------------------------------------------


@pytest.mark.parametrize("seed,exclude_self,quantize", [(0, False, False), (1, True, False), (2, True, True),
                                                         (3, False, True)])
def test_random_against_oracle(seed, exclude_self, quantize):
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(40, 3))
    if quantize:  # coarse vectors give many exactly tied scores
        g = np.round(g)
        g[np.abs(g).sum(axis=1) == 0] = 1.0
    g = unit(g)
    gl = rng.integers(0, 6, len(g))
    if exclude_self:
        q, ql = g, gl
    else:
        q, ql = unit(rng.normal(size=(25, 3))), rng.integers(0, 7, 25)  # label 6 never occurs: no relevant item
    check_against_oracle(q, ql, g, gl, ks=(1, 3, 10, 100), exclude_self=exclude_self)


def test_group_max_pools_a_products_images():
    scores = np.array([[0.1, 0.9, 0.3, 0.2]], dtype=np.float32)
    np.testing.assert_allclose(group_max(scores, np.array([1, 0, 1, 2]), 3), [[0.9, 0.3, 0.2]])


def test_chunking_does_not_change_results(monkeypatch):
    rng = np.random.default_rng(5)
    g, gl = unit(rng.normal(size=(300, 8))), rng.integers(0, 20, 300)
    whole = M.score_queries(g, gl, g, gl, exclude=np.arange(300))
    monkeypatch.setattr("lookalike.evaluate.ranking.CHUNK_ELEMENTS", 1000)
    chunked = M.score_queries(g, gl, g, gl, exclude=np.arange(300))
    for name in whole.values:
        np.testing.assert_array_equal(whole.values[name], chunked.values[name])
    np.testing.assert_array_equal(whole.top, chunked.top)


def test_cmc_curve_matches_recall_at_k():
    rng = np.random.default_rng(6)
    g, gl = unit(rng.normal(size=(200, 4))), rng.integers(0, 30, 200)
    s = M.score_queries(g, gl, g, gl, ks=(1, 5, 20), exclude=np.arange(200))
    curve = M.cmc_curve(s.first_rank, s.n_rel, 199)
    for k in (1, 5, 20):
        assert curve[k - 1] == pytest.approx(M.mean_valid(s.values[f"recall@{k}"]))
    assert curve[-1] == pytest.approx(1.0)


def test_labels_of_mixed_types_are_compared_as_text():
    q, g = encode_labels(np.array([1, 2]), np.array(["2", "1", "3"]))
    assert q.tolist() == [g[1], g[0]]


# ---- independent implementations ---------------------------------------------------------------------------


def test_against_scikit_learn():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(7)
    g, gl = unit(rng.normal(size=(60, 16))), rng.integers(0, 5, 60)
    q, ql = unit(rng.normal(size=(30, 16))), rng.integers(0, 5, 30)
    s = M.score_queries(q, ql, g, gl, ks=(5, 60))
    scores = q @ g.T
    for i in range(len(q)):
        truth = (gl == ql[i]).astype(int)
        if truth.sum() == 0:
            continue
        # AP over the whole ranking equals map@k with k = gallery size
        assert s.values["map@60"][i] == pytest.approx(skm.average_precision_score(truth, scores[i]), rel=1e-6)
        assert s.values["ndcg@5"][i] == pytest.approx(skm.ndcg_score([truth], [scores[i]], k=5), rel=1e-6)


def test_against_pytorch_metric_learning():
    torch = pytest.importorskip("torch")
    acc = pytest.importorskip("pytorch_metric_learning.utils.accuracy_calculator")
    rng = np.random.default_rng(8)
    g, gl = unit(rng.normal(size=(120, 12))), rng.integers(0, 8, 120)
    calc = acc.AccuracyCalculator(include=("mean_average_precision_at_r", "precision_at_1", "r_precision"),
                                  k="max_bin_count")
    ref = calc.get_accuracy(torch.from_numpy(g), torch.from_numpy(gl), ref_includes_query=True)
    s = M.score_queries(g, gl, g, gl, ks=(1,), exclude=np.arange(len(g))).summary()
    assert s["map@r"] == pytest.approx(ref["mean_average_precision_at_r"], abs=1e-5)
    assert s["precision@1"] == pytest.approx(ref["precision_at_1"], abs=1e-5)
    assert s["r_precision"] == pytest.approx(ref["r_precision"], abs=1e-5)


# ---- bootstrap ---------------------------------------------------------------------------------------------


def test_bootstrap_ci_brackets_the_mean_and_skips_nan():
    values = np.r_[np.ones(70), np.zeros(30), [np.nan] * 5]
    lo, hi = bootstrap_ci(values, n_boot=500, seed=0)
    assert lo < 0.7 < hi and 0.55 < lo and hi < 0.85
    assert bootstrap_ci(np.ones(10), n_boot=100) == (1.0, 1.0)
    assert all(math.isnan(x) for x in bootstrap_ci(np.array([np.nan]), n_boot=10))


def test_paired_ci_uses_the_same_resamples():
    a = np.r_[np.ones(50), np.zeros(50)]
    lo, hi = paired_ci(a, a.copy(), n_boot=200)
    assert lo == hi == 0.0


def test_zero_resamples_switch_intervals_off():
    a = np.r_[np.ones(5), np.zeros(5)]
    assert all(math.isnan(x) for x in bootstrap_ci(a, n_boot=0) + paired_ci(a, a, n_boot=0))


def test_top_scores_are_the_ranked_inner_products():
    rng = np.random.default_rng(9)
    g, gl = unit(rng.normal(size=(50, 6))), rng.integers(0, 5, 50)
    q = unit(rng.normal(size=(7, 6)))
    s = M.score_queries(q, gl[:7], g, gl, ks=(1, 10))
    expect = -np.sort(-(q @ g.T), axis=1)[:, :10]
    np.testing.assert_array_equal(s.top_scores, expect)
    np.testing.assert_array_equal(np.take_along_axis(q @ g.T, s.top, axis=1), expect)
