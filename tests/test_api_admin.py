"""Admin endpoints on a writable copy of the demo workspace: add, delete, reindex; refused without the key."""

from __future__ import annotations

import json
import threading

import pytest
from fastapi.testclient import TestClient

from lookalike.serve.app import create_app
from lookalike.serve.settings import Settings

KEY = "test-key-123"
AUTH = {"X-API-Key": KEY}


@pytest.fixture
def admin(ws_copy):
    """A client over a private workspace copy, with an API key configured."""
    with TestClient(create_app(ws_copy, Settings(api_key=KEY))) as c:
        yield c


def _error(resp, status: int, code: str | None = None) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()["error"]
    if code:
        assert body["code"] == code
    return body["message"]


def _add(client, pid: str, photo: bytes | None, metadata: dict | str | None = None, headers=AUTH):
    meta = metadata if isinstance(metadata, str) else json.dumps(metadata or {"name": pid, "category": "Test"})
    files = [("files", ("p.jpg", photo, "image/jpeg"))] if photo is not None else []
    return client.post("/products", data={"id": pid, "metadata": meta}, files=files or None, headers=headers)


def _search_top(client, photo: bytes, k: int = 3) -> list[str]:
    resp = client.post("/search", files=[("files", ("q.jpg", photo, "image/jpeg"))], data={"k": str(k)})
    assert resp.status_code == 200, resp.text
    return [h["id"] for h in resp.json()["results"]]


def test_writes_refused_without_a_configured_key(ws_copy, demo_queries):
    photo = demo_queries[0][0].read_bytes()
    with TestClient(create_app(ws_copy, Settings(api_key=None))) as c:
        msg = _error(_add(c, "x", photo), 403, "admin_disabled")
        assert "LOOKALIKE_API_KEY" in msg
        _error(c.delete("/products/Anjou", headers=AUTH), 403, "admin_disabled")
        _error(c.post("/reindex", headers=AUTH), 403, "admin_disabled")
        _error(c.get("/admin/stats", headers=AUTH), 403, "admin_disabled")
    assert ws_copy.catalog.count("products") == 81


def test_writes_refused_with_missing_or_wrong_key(admin, ws_copy, demo_queries):
    photo = demo_queries[0][0].read_bytes()
    assert "X-API-Key" in _error(_add(admin, "x", photo, headers={}), 401, "unauthorized")
    assert "wrong API key" in _error(_add(admin, "x", photo, headers={"X-API-Key": "nope"}), 401)
    _error(admin.delete("/products/Anjou"), 401)
    _error(admin.delete("/products/Anjou", headers={"X-API-Key": "nope"}), 401)
    _error(admin.post("/reindex"), 401)
    _error(admin.get("/admin/problems"), 401)
    assert ws_copy.catalog.count("products") == 81 and admin.get("/products/Anjou").status_code == 200


def test_added_product_is_searchable_at_once(admin, demo_queries):
    photo = demo_queries[3][0].read_bytes()
    resp = _add(admin, "shelf/new oat drink", photo, {"name": "New oat drink", "category": "Oat-Milk"})
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert out["indexed"] == {"efficientnet_lite0": 163} and len(out["image_ids"]) == 1
    assert _search_top(admin, photo)[0] == "shelf/new oat drink"  # its own photo is the best match
    p = admin.get("/products/shelf%2Fnew%20oat%20drink").json()
    assert p["metadata"]["name"] == "New oat drink"
    assert admin.get(p["images"][0]["thumb_url"]).status_code == 200
    sim = admin.get("/products/shelf%2Fnew%20oat%20drink/similar", params={"k": 3})
    assert sim.status_code == 200 and len(sim.json()["results"]) == 3
    assert admin.get("/health").json()["generation"] >= 1


def test_update_metadata_only(admin):
    resp = admin.post("/products", data={"id": "Anjou", "metadata": json.dumps({"name": "Anjou pear"})}, headers=AUTH)
    assert resp.status_code == 201, resp.text
    assert admin.get("/products/Anjou").json()["metadata"] == {"name": "Anjou pear"}


def test_bad_adds_write_nothing(admin, ws_copy, demo_queries):
    photo = demo_queries[0][0].read_bytes()
    assert "JSON" in _error(_add(admin, "x", photo, "{not json"), 400, "bad_input")
    assert "JSON object" in _error(_add(admin, "x", photo, "[1, 2]"), 400)
    assert "at least one photo" in _error(_add(admin, "x", None), 400)
    _error(_add(admin, "x", b"not an image"), 422, "bad_image")
    _error(_add(admin, "x", photo[:500]), 422, "bad_image")
    bad_type = admin.post("/products", data={"id": "x"}, files=[("files", ("a.txt", b"hi", "text/plain"))], headers=AUTH)
    _error(bad_type, 415, "unsupported_media_type")
    assert "http" in _error(admin.post("/products", data={"id": "x", "urls": "file:///etc/passwd"}, headers=AUTH), 400)
    _error(admin.post("/products", data={"metadata": "{}"}, headers=AUTH), 422, "invalid_request")
    assert ws_copy.catalog.count("products") == 81


def test_delete_product(admin, demo_queries):
    photo, pid = demo_queries[0][0].read_bytes(), demo_queries[0][1]
    assert pid in _search_top(admin, photo, k=10)
    resp = admin.delete(f"/products/{pid}", headers=AUTH)
    assert resp.status_code == 200 and resp.json() == {"id": pid, "image_ids": [], "indexed": {"efficientnet_lite0": 160}}
    _error(admin.get(f"/products/{pid}"), 404)
    assert pid not in _search_top(admin, photo, k=10)
    _error(admin.delete(f"/products/{pid}", headers=AUTH), 404, "not_found")


def test_admin_stats_and_problems(admin):
    stats = admin.get("/admin/stats", headers=AUTH).json()
    assert stats["products"] == 81 and stats["images"] == {"ok": 162}
    assert stats["indexes"]["efficientnet_lite0"]["count"] == 162 and stats["runs"]
    problems = admin.get("/admin/problems", headers=AUTH).json()
    assert problems == {"problems": [], "bad_images": []}


def test_reindex_runs_in_background_while_search_serves(admin, demo_queries):
    state = admin.app.state.lookalike
    photo = demo_queries[1][0].read_bytes()
    before = state.generation
    failures: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            for resp in (admin.get("/products/Anjou/similar", params={"k": 5}),
                         admin.post("/search", files=[("files", ("q.jpg", photo, "image/jpeg"))])):
                if resp.status_code != 200 or not resp.json()["results"]:
                    failures.append(resp.text)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for _ in range(3):
            resp = admin.post("/reindex", headers=AUTH)
            assert resp.status_code == 202 and resp.json()["state"] == "running"
            assert state.wait_reindex(60)["state"] == "done"
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    status = admin.get("/reindex", headers=AUTH).json()
    assert status["state"] == "done" and status["indexed"] == {"efficientnet_lite0": 162}
    assert state.generation == before + 3


def test_reindex_refused_while_a_write_runs(admin):
    state = admin.app.state.lookalike
    with state.write_lock:
        assert "already running" in _error(admin.post("/reindex", headers=AUTH), 409, "workspace")
    assert admin.post("/reindex", headers=AUTH).status_code == 202
    state.wait_reindex(60)
