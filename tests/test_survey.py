"""A/B survey on the real demo workspace: blind lists, votes mapped back to models, exact statistics."""

from __future__ import annotations

import math

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lookalike.embed import embed_new
from lookalike.errors import BadInput, NotFound
from lookalike.index.build import build_index
from lookalike.survey import create_survey, record_vote, survey_results
from lookalike.survey.stats import sign_test, wilson_interval


def test_sign_test_and_wilson_against_hand_values():
    assert sign_test(0, 0) is None
    assert sign_test(5, 5) == 1.0
    assert sign_test(8, 0) == pytest.approx(2 / 2**8)  # all 8 votes one way
    assert sign_test(7, 3) == pytest.approx(2 * sum(math.comb(10, i) for i in range(4)) / 2**10)
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)


@pytest.fixture(scope="module")
def two_model_ws(tmp_path_factory, demo_ws):
    import shutil

    from lookalike.workspace import Workspace

    demo_ws.catalog.conn().execute("PRAGMA wal_checkpoint(FULL)")
    dst = tmp_path_factory.mktemp("survey") / "ws"
    shutil.copytree(demo_ws.root, dst)
    ws = Workspace(dst)
    embed_new(ws, "mobilenet_v2")
    build_index(ws.catalog, ws.index_dir, "mobilenet_v2")
    return ws


def test_votes_map_left_right_back_to_models(two_model_ws):
    ws = two_model_ws
    spec = create_survey(ws, "efficientnet_lite0", "mobilenet_v2", n=6, k=4, seed=1, name="s1")
    assert len(spec["items"]) == 6 and all(len(it["a"]) == 4 for it in spec["items"])
    assert {it["left"] for it in spec["items"]} <= {"a", "b"}
    for i, it in enumerate(spec["items"]):  # this voter always prefers efficientnet_lite0 (A)
        record_vote(ws, "s1", i, "left" if it["left"] == "a" else "right", "alice")
    record_vote(ws, "s1", 0, "tie", "bob")
    r = survey_results(ws, "s1")
    assert (r.a, r.b, r.tie, r.voters) == (6, 0, 1, 2)
    record_vote(ws, "s1", 0, "tie", "alice")  # voting again replaces the earlier vote
    assert survey_results(ws, "s1").a == 5
    with pytest.raises(BadInput, match="choice"):
        record_vote(ws, "s1", 0, "up", "alice")
    with pytest.raises(BadInput, match="outside"):
        record_vote(ws, "s1", 99, "tie", "alice")
    with pytest.raises(BadInput, match="exists already"):
        create_survey(ws, "efficientnet_lite0", "mobilenet_v2", n=2, name="s1")
    with pytest.raises(NotFound, match="survey create"):
        survey_results(ws, "nope")


def test_photo_queries_and_the_http_api(two_model_ws, demo_queries):
    from lookalike.survey.routes import router

    ws = two_model_ws
    folder = demo_queries[0][0].parent
    spec = create_survey(ws, "mobilenet_v2", "efficientnet_lite0", queries=str(folder), n=3, k=3, name="photos")
    app = FastAPI()
    app.state.lookalike = type("State", (), {"ws": ws})()
    app.include_router(router)
    client = TestClient(app, raise_server_exceptions=False)
    items = client.get("/api/surveys/photos").json()["items"]
    assert len(items) == 3 and "model" not in str(items)  # blind: no model names are sent
    first = spec["items"][0]
    left_ids = [c["id"] for c in items[0]["left"]]
    assert left_ids == (first["a"] if first["left"] == "a" else first["b"])
    img = client.get(items[0]["query"])
    assert img.status_code == 200 and img.content[:2] == b"\xff\xd8"
    assert client.post("/api/surveys/photos/votes", json={"item": 0, "choice": "left", "voter": "v"}).status_code == 200
    res = client.get("/api/surveys/photos/results").json()
    assert res["a"] + res["b"] == 1 and res["a_win_rate_ci95"][0] is not None
    assert client.get("/survey/photos").status_code == 200


def test_served_by_lookalike_serve_with_the_shared_error_shape(two_model_ws):
    from lookalike.serve.app import create_app

    client = TestClient(create_app(two_model_ws))
    r = client.get("/api/surveys/missing/results")
    assert r.status_code == 404 and "survey create" in r.json()["error"]["message"]
    r = client.post("/api/surveys/s1/votes", json={"item": 0, "choice": "sideways", "voter": "v"})
    assert r.status_code in (400, 404) and "error" in r.json()
