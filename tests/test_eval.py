"""Evaluation end to end on the demo workspace: protocols, numbers against a direct computation, report files."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from lookalike.errors import BadInput, LookalikeError, NotFound
from lookalike.evaluate.protocol import Protocol, build_eval_set, parse_selection, selected
from lookalike.evaluate.runner import evaluate
from lookalike.store import image_of

MODEL = "efficientnet_lite0"


def run(*args: str):
    """Invoke the CLI; library errors come back as (1, message) like main() prints them."""
    from lookalike.cli import app, load_commands

    load_commands()
    res = CliRunner().invoke(app, list(args), catch_exceptions=True)
    if isinstance(res.exception, LookalikeError):
        return 1, res.exception.message
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.output


def direct(ws):
    """Image ids, vecs, product ids and metadata straight from the store, for independent computations."""
    vids, vecs = ws.catalog.embeddings(MODEL, views=[0])
    ids = image_of(vids)
    owner = ws.catalog.image_products(ids)
    meta = ws.catalog.products()
    return ids, vecs, [owner[int(i)] for i in ids], meta


def test_parse_selection():
    conds = parse_selection(["split=test,val & group!=Fruit", "domain=natural"])
    assert [(c.key, c.negate) for c in conds] == [("split", False), ("group", True), ("domain", False)]
    assert selected({"split": "val", "group": "Packages", "domain": "natural"}, conds)
    assert not selected({"split": "val", "group": "Fruit", "domain": "natural"}, conds)
    assert not selected({"split": "train", "group": "Packages", "domain": "natural"}, conds)
    with pytest.raises(BadInput, match="split=test"):
        parse_selection("split")


def test_leave_one_out_at_image_level_matches_a_direct_computation(demo_ws):
    _, vecs, pids, _ = direct(demo_ws)
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -np.inf)
    labels = np.array(pids)
    nearest = np.argsort(-sims, axis=1, kind="stable")
    expect_r1 = float((labels[nearest[:, 0]] == labels).mean())
    expect_r5 = float((labels[nearest[:, :5]] == labels[:, None]).any(axis=1).mean())
    res = evaluate(demo_ws, [MODEL], Protocol(relevant="id", leave_one_out=True), ks=(1, 5), n_boot=200)
    s = res.models[MODEL].summary
    assert len(res.eval_set.query_images) == 162 and len(res.eval_set.gallery_items) == 162
    assert (res.models[MODEL].scores.n_rel == 1).all()  # each product's other image
    assert s["recall@1"]["mean"] == pytest.approx(expect_r1)
    assert s["recall@5"]["mean"] == pytest.approx(expect_r5)
    assert s["map@r"]["mean"] == pytest.approx(expect_r1)  # R = 1, so MAP@R is recall@1
    lo, hi = s["recall@1"]["ci95"]
    assert lo <= expect_r1 <= hi


def test_product_unit_takes_the_max_over_a_products_images(demo_ws):
    ids, vecs, pids, meta = direct(demo_ws)
    products = sorted(set(pids))
    col = np.array([products.index(p) for p in pids])
    sims = vecs @ vecs.T
    best = np.full((len(ids), len(products)), -np.inf)
    for j, p in enumerate(col):
        best[:, p] = np.maximum(best[:, p], sims[:, j])
    best[np.arange(len(ids)), col] = -np.inf  # the query's own product is left out
    top = np.argmax(best, axis=1)
    cats = np.array([meta[p]["category"] for p in products])
    has_rel = np.array([(cats == cats[c]).sum() > 1 for c in col])  # a one-product category has nothing relevant
    expect = float((cats[top] == cats[col])[has_rel].mean())
    res = evaluate(demo_ws, [MODEL], Protocol(relevant="category", unit="product"), ks=(1,), n_boot=0)
    r = res.models[MODEL]
    assert len(res.eval_set.gallery_items) == 81
    np.testing.assert_array_equal(r.scores.n_rel > 0, has_rel)
    assert r.summary["recall@1"]["mean"] == pytest.approx(expect)


def test_separate_sets_and_selection(demo_ws):
    p = Protocol(relevant="id", query=["group=Fruit"], gallery=["group!=Fruit"])
    res = evaluate(demo_ws, [MODEL], p, ks=(1,), n_boot=0)
    es = res.eval_set
    meta = demo_ws.catalog.products()
    assert all(meta[q]["group"] == "Fruit" for q in es.query_products)
    assert all(meta[g]["group"] != "Fruit" for g in es.gallery_products)
    assert (res.models[MODEL].scores.n_rel == 0).all()  # no product is on both sides


def test_helpful_errors(demo_ws):
    with pytest.raises(NotFound, match="lookalike index .*--model mobilenet_v2"):
        evaluate(demo_ws, ["mobilenet_v2"], Protocol())
    with pytest.raises(BadInput, match="columns are: .*category"):
        evaluate(demo_ws, [MODEL], Protocol(relevant="colour"))
    with pytest.raises(BadInput, match="no embedded image matches"):
        evaluate(demo_ws, [MODEL], Protocol(query=["group=Toys"]))
    with pytest.raises(BadInput, match="unit"):
        build_eval_set(demo_ws, Protocol(unit="shelf"), np.zeros(0, np.int64))
    code, msg = run("eval", "-w", str(demo_ws.root), "--models", "mobilenet_v2")
    assert code == 1 and "lookalike index" in msg


@pytest.mark.slow
def test_eval_cli_writes_a_self_contained_report(ws_copy, tmp_path):
    log = ws_copy.model_dir / MODEL / "log.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text("\n".join(json.dumps({"epoch": e, "loss": 1 / (e + 1), "val_recall@1": 0.5 + e / 10})
                             for e in range(4)) + "\nnot json\n")
    rep = tmp_path / "report"
    code, out = run("eval", "-w", str(ws_copy.root), "--relevant", "id", "--leave-one-out", "--per", "group",
                    "--report", str(rep), "--bootstrap", "200")
    assert code == 0, out
    for name in ("metrics.json", "index.html", "cmc.png", "per_group.png", "best_queries.jpg", "worst_queries.jpg",
                 "embeddings.html", f"training_{MODEL}.png"):
        assert (rep / name).stat().st_size > 1000, name
    metrics = json.loads((rep / "metrics.json").read_text())
    direct_r1 = evaluate(ws_copy, [MODEL], Protocol(relevant="id", leave_one_out=True), ks=(1,), n_boot=0)
    got = metrics["models"][MODEL]
    assert got["metrics"]["recall@1"]["mean"] == pytest.approx(direct_r1.models[MODEL].summary["recall@1"]["mean"])
    assert got["cmc"][0] == pytest.approx(got["metrics"]["recall@1"]["mean"])
    assert set(got["per"]["group"]) == {"Fruit", "Vegetables", "Packages"}
    page = (rep / "index.html").read_text()
    assert "Training curves" in page and "embeddings.html" in page
    assert not re.search(r"""(src|href)=['"]?(https?:)?//""", page), "index.html must not load anything remote"
    assert page.count("data:image/") >= 5
    plot = (rep / "embeddings.html").read_text()
    assert "plotly" in plot and not re.search(r"""<script[^>]+src=""", plot)


def test_plot_commands(demo_ws, tmp_path):
    out = tmp_path / "space.html"
    code, msg = run("plot", "embeddings", "-w", str(demo_ws.root), "--color-by", "group", "--out", str(out),
                    "--max-points", "40")
    assert code == 0, msg
    page = out.read_text()
    assert page.count("data:image/jpeg;base64,") == 40 and "Fruit" in page
    grid = tmp_path / "compare.png"
    code, msg = run("plot", "grid", "-w", str(demo_ws.root), "--queries", "3", "--models", MODEL, "--out", str(grid))
    assert code == 0, msg
    from PIL import Image

    assert Image.open(grid).size[1] > 3 * 160
    code, msg = run("plot", "embeddings", "-w", str(demo_ws.root), "--color-by", "colour", "--out", str(out))
    assert code == 1 and "columns are" in msg
    code, msg = run("plot", "curves", "-w", str(demo_ws.root), "--model", "nothing")
    assert code == 1 and "log" in msg


def test_training_curves_draw_any_numeric_key(tmp_path):
    from lookalike.viz.curves import _numeric_series, plot_training_curves

    log = tmp_path / "log.jsonl"
    log.write_text('{"epoch": 0, "loss": 2.0, "lr": 0.1, "note": "x"}\n{"epoch": 1, "loss": 1.5, "val_map@r": 0.3}\n')
    xs, series = _numeric_series([json.loads(line) for line in log.read_text().splitlines()])
    assert xs == [0.0, 1.0] and set(series) == {"loss", "lr", "val_map@r"}
    assert plot_training_curves(log, tmp_path / "c.png").stat().st_size > 1000
    from lookalike.viz.curves import curve_panels

    rows = [{"epoch": 1, "loss": 0.5, "val_recall@1": 0.7, "seconds": 9.0}, {"epoch": 2, "loss": 0.3, "seconds": 18.0}]
    assert [(t, sorted(g)) for t, g in curve_panels(rows)] == [("loss", ["loss"]), ("metrics", ["val_recall@1"])]
