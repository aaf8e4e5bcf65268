"""Search and similar on the real demo workspace: products out, filters, several photos, export."""

from __future__ import annotations

import csv
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from lookalike import images
from lookalike.errors import BadInput, NotFound
from lookalike.export import similar_table, write_table
from lookalike.search import Searcher, parse_filters


@pytest.fixture(scope="module")
def searcher(demo_ws):
    return Searcher(demo_ws)


def test_shopper_photos_find_their_product(searcher, demo_queries):
    found = [pid in {h.product_id for h in searcher.search_images([images.load(q)], 5)} for q, pid in demo_queries]
    # 30 real shopper photos against 81 products (2 images each), pretrained lite0: measured 0.73
    assert np.mean(found) >= 0.5


def test_results_are_distinct_products_with_best_image_score(searcher, demo_queries):
    q = images.load(demo_queries[0][0])
    hits = searcher.search_images([q], 10)
    assert len(hits) == 10 and len({h.product_id for h in hits}) == 10
    assert [h.rank for h in hits] == list(range(1, 11))
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    vec = searcher.embedder.embed([q])[0]
    ids, vecs = searcher.ws.catalog.embeddings(searcher.model)
    top = hits[0]
    mine = [v for i, v in zip(ids, vecs) if searcher.image_product[int(i) // 16] == top.product_id]
    assert top.score == pytest.approx(max(float(v @ vec) for v in mine), abs=1e-4)


def test_filters_still_return_k_when_enough_match(searcher, demo_queries):
    q = images.load(demo_queries[0][0])
    hits = searcher.search_images([q], 10, parse_filters(["group=Packages"]))
    assert len(hits) == 10 and all(h.metadata["group"] == "Packages" for h in hits)
    two = searcher.search_images([q], 5, parse_filters(["category=Apple,Pear", "group=Fruit"]))
    assert {h.metadata["category"] for h in two} <= {"Apple", "Pear"} and len(two) == 5
    none = searcher.search_images([q], 5, parse_filters(["group=Furniture"]))
    assert none == []
    with pytest.raises(BadInput, match="key=value"):
        parse_filters(["group"])


def test_several_photos_combine(searcher, demo_queries):
    photos = [images.load(q) for q, _ in demo_queries[:2]]
    mean_hits = searcher.search_images(photos, 5, combine="mean")
    max_hits = searcher.search_images(photos, 5, combine="max")
    v = searcher.embedder.embed(photos)
    q = v.mean(0)
    q /= np.linalg.norm(q)
    assert [h.product_id for h in mean_hits] == [h.product_id for h in searcher.search_vectors(q, 5)]
    singles = {h.product_id: h.score for p in photos for h in searcher.search_images([p], 20)}
    assert max_hits[0].score == pytest.approx(max(singles.values()), abs=1e-4)
    with pytest.raises(BadInput, match="combine"):
        searcher.search_images(photos, 5, combine="median")


def test_similar_excludes_itself_and_respects_filters(searcher):
    hits = searcher.similar("Granny-Smith", 8)
    assert len(hits) == 8 and "Granny-Smith" not in [h.product_id for h in hits]
    pk = searcher.similar("Granny-Smith", 4, parse_filters(["group=Packages"]))
    assert all(h.metadata["group"] == "Packages" for h in pk) and len(pk) == 4
    with pytest.raises(NotFound, match="lookalike products"):
        searcher.similar("no-such-product")


def test_export_table_in_every_format(searcher, tmp_path):
    rows = similar_table(searcher, 3)
    assert len(rows) == 81 * 3
    assert all(r["product_id"] != r["similar_id"] for r in rows)
    write_table(rows, tmp_path / "t.csv")
    write_table(rows, tmp_path / "t.json")
    write_table(rows, tmp_path / "t.parquet")
    assert len(list(csv.DictReader(open(tmp_path / "t.csv")))) == len(rows)
    assert json.loads((tmp_path / "t.json").read_text()) == rows
    assert pq.read_table(tmp_path / "t.parquet").num_rows == len(rows)
    with pytest.raises(BadInput, match="parquet"):
        write_table(rows, tmp_path / "t.xlsx")
