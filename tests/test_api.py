"""The REST API over a real workspace (the demo catalog): every read endpoint, and every bad input."""

from __future__ import annotations

import functools
import http.server
import io
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from lookalike.serve.app import create_app
from lookalike.serve.settings import Settings

KEY = "test-key-123"


@pytest.fixture(scope="module")
def client(demo_ws):
    """A client over the read-only demo workspace, with an API key configured."""
    with TestClient(create_app(demo_ws, Settings(api_key=KEY))) as c:
        yield c


@pytest.fixture(scope="module")
def query(demo_queries) -> tuple[bytes, str]:
    """(photo bytes, right product id) of a real shopper photo."""
    path, pid = demo_queries[0]
    return path.read_bytes(), pid


def _jpeg(w=64, h=48, color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, "JPEG")
    return buf.getvalue()


def _search(client, data=None, files=None, photo=None, **kw):
    files = files if files is not None else [("files", ("q.jpg", photo, "image/jpeg"))]
    return client.post("/search", files=files, data=data or {}, **kw)


def _error(resp, status: int, code: str | None = None) -> str:
    """Check the one error shape and return the message."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    if code:
        assert body["error"]["code"] == code
    return body["error"]["message"]


# -- health, metrics, pages ------------------------------------------------------
def test_health(client):
    body = client.get("/health").json()
    assert body["ready"] and body["status"] == "ok"
    assert body["models"] == ["efficientnet_lite0"] and body["index_vectors"] == {"efficientnet_lite0": 162}
    assert body["products"] == 81


def test_metrics_count_requests_and_index_size(client, query):
    _search(client, photo=query[0])
    client.get("/products/nope-not-here")
    text = client.get("/metrics").text
    assert 'lookalike_requests_total{method="POST",route="/search",status="200"}' in text
    assert 'route="/products/{product_id:path}",status="404"' in text
    assert 'lookalike_request_duration_seconds_bucket{le="0.5",method="POST",route="/search"}' in text
    assert 'lookalike_index_vectors{model="efficientnet_lite0"} 162.0' in text
    assert "lookalike_catalog_products 81.0" in text


def test_web_pages_are_served_without_cdn(client):
    page = client.get("/").text
    assert 'capture="environment"' in page and 'accept="image/*"' in page
    assert "http://" not in page and "https://" not in page
    assert "API key" in client.get("/staff").text
    css = client.get("/static/app.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]


def test_openapi_lists_every_endpoint(client):
    paths = client.get("/openapi.json").json()["paths"]
    for p in ["/search", "/products", "/products/{product_id}", "/products/{product_id}/similar", "/facets",
              "/images/{image_id}", "/images/{image_id}/thumb", "/reindex", "/health", "/metrics"]:
        assert p in paths, p


# -- search ----------------------------------------------------------------------
def test_search_upload_finds_the_product(client, query):
    resp = _search(client, {"k": "5"}, photo=query[0])
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["model"] == "efficientnet_lite0" and len(out["results"]) == 5
    assert query[1] in [h["id"] for h in out["results"]]
    scores = [h["score"] for h in out["results"]]
    assert scores == sorted(scores, reverse=True)
    hit = out["results"][0]
    assert hit["image_url"] == f"/images/{hit['image_id']}" and hit["thumb_url"].endswith("/thumb")
    assert hit["metadata"]["name"]


def test_search_several_photos_mean_and_max(client, demo_queries):
    files = [("files", (p.name, p.read_bytes(), "image/jpeg")) for p, _ in demo_queries[:2]]
    for combine in ("mean", "max"):
        resp = _search(client, {"k": "4", "combine": combine}, files=files)
        assert resp.status_code == 200 and resp.json()["query"]["images"] == 2
    _error(_search(client, {"combine": "median"}, files=files), 422, "invalid_request")


def test_search_crop_box(client, query):
    w, h = Image.open(io.BytesIO(query[0])).size
    resp = _search(client, {"crop": f"0,0,{w // 2},{h // 2}", "k": "3"}, photo=query[0])
    assert resp.status_code == 200 and resp.json()["query"]["crop"] == [0, 0, w // 2, h // 2]
    assert "outside" in _error(_search(client, {"crop": f"0,0,{w + 5},{h}"}, photo=query[0]), 400, "bad_input")
    assert "empty crop box" in _error(_search(client, {"crop": "50,50,10,10"}, photo=query[0]), 400)
    assert "x0,y0,x1,y1" in _error(_search(client, {"crop": "1,2,3"}, photo=query[0]), 400)


def test_search_crop_auto_returns_boxes(client, query):
    import importlib.util

    resp = _search(client, {"crop": "auto", "regions": "2", "k": "3"}, photo=query[0])
    if importlib.util.find_spec("lookalike.crop") is None:  # the automatic croppers are not installed
        assert "lookalike.crop" in _error(resp, 400, "bad_input")
        return
    assert resp.status_code == 200, resp.text
    out = resp.json()
    w, h = Image.open(io.BytesIO(query[0])).size
    assert 1 <= len(out["regions"]) <= 2 and out["results"] == out["regions"][0]["results"]
    for region in out["regions"]:
        x0, y0, x1, y1 = region["box"]
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert all(hit["box"] == region["box"] and hit["thumb_url"] for hit in region["results"])
    assert "unknown crop" in _error(_search(client, {"crop": "no-such-cropper"}, photo=query[0]), 400)


def test_search_filters(client, query):
    resp = _search(client, {"filter": ["group=Fruit"], "k": "6"}, photo=query[0])
    assert resp.status_code == 200
    assert resp.json()["results"] and all(h["metadata"]["group"] == "Fruit" for h in resp.json()["results"])
    assert "key=value" in _error(_search(client, {"filter": ["nokey"]}, photo=query[0]), 400, "bad_input")


@pytest.fixture(scope="module")
def image_server(demo_catalog):
    """A loopback HTTP server over demo/images, for URL queries."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(demo_catalog.parent / "images"))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_search_by_url(client, image_server):
    resp = _search(client, {"url": f"{image_server}/Anjou_iconic.jpg", "k": "3"}, files=[])
    assert resp.status_code == 200, resp.text
    assert resp.json()["results"][0]["id"] == "Anjou"
    assert "http" in _error(_search(client, {"url": "file:///etc/passwd"}, files=[]), 400, "bad_input")
    assert "could not fetch" in _error(_search(client, {"url": f"{image_server}/missing.jpg"}, files=[]), 422)


# -- bad uploads: each is a 4xx with a clear message, and the server stays up -------------
def test_no_photo(client):
    assert "files=@photo.jpg" in _error(_search(client, {"k": "3"}, files=[]), 400, "bad_input")


def test_not_an_image(client):
    msg = _error(_search(client, photo=b"hello, I am text"), 422, "bad_image")
    assert "not an image" in msg


def test_truncated_image(client, query):
    msg = _error(_search(client, photo=query[0][: len(query[0]) // 3]), 422, "bad_image")
    assert "truncated" in msg or "corrupt" in msg


def test_decompression_bomb(client):
    buf = io.BytesIO()
    Image.new("1", (12000, 12000)).save(buf, "PNG")  # ~20 kB on disk, 144 megapixels decoded
    assert len(buf.getvalue()) < 100_000
    assert "decompression bomb" in _error(_search(client, photo=buf.getvalue()), 422, "bad_image")


def test_wrong_content_types(client):
    files = [("files", ("notes.txt", b"just text", "text/plain"))]
    assert "not an image" in _error(_search(client, files=files), 415, "unsupported_media_type")
    resp = client.post("/search", json={"url": "http://example.com/a.jpg"})
    assert "multipart/form-data" in _error(resp, 415, "unsupported_media_type")


def test_upload_too_large(demo_ws):
    app = create_app(demo_ws, Settings(max_upload_mb=0.05))
    with TestClient(app) as c:
        big = _jpeg(600, 600) + b"\0" * 60_000
        assert "upload limit" in _error(_search(c, photo=big), 413, "too_large")
        assert c.get("/health").status_code == 200


def test_bad_parameters_share_the_error_shape(client, query):
    assert "k" in _error(_search(client, {"k": "0"}, photo=query[0]), 422, "invalid_request")
    assert "no index" in _error(_search(client, {"model": "nosuchmodel"}, photo=query[0]), 404, "not_found")
    assert "no such endpoint" in _error(client.get("/nope"), 404, "not_found")
    _error(client.put("/health"), 405, "method_not_allowed")


def test_time_limit_gives_504(demo_ws, query):
    with TestClient(create_app(demo_ws, Settings(request_timeout_s=0.001))) as c:
        assert "limit" in _error(_search(c, photo=query[0]), 504, "timeout")


def test_server_stays_up_after_bad_inputs(client, query):
    for payload in (b"", b"\x89PNG\r\n\x1a\n", b"GIF89a" + b"\0" * 10):
        assert 400 <= _search(client, photo=payload).status_code < 500
    assert _search(client, photo=query[0]).status_code == 200


# -- products, similar, facets -------------------------------------------------------
def test_products_pages_and_filters(client):
    first = client.get("/products", params={"page_size": 10}).json()
    assert first["total"] == 81 and first["pages"] == 9 and len(first["items"]) == 10
    assert all(len(p["image_ids"]) == 2 and p["thumb_url"] for p in first["items"])
    last = client.get("/products", params={"page_size": 10, "page": 9}).json()
    assert len(last["items"]) == 1
    assert client.get("/products", params={"page": 50}).json()["items"] == []
    fruit = client.get("/products", params=[("filter", "group=Fruit"), ("page_size", 200)]).json()
    assert fruit["total"] > 0 and all(p["metadata"]["group"] == "Fruit" for p in fruit["items"])
    _error(client.get("/products", params={"page_size": 0}), 422, "invalid_request")


def test_product_and_similar(client):
    p = client.get("/products/Anjou").json()
    assert p["metadata"]["category"] and len(p["images"]) == 2
    assert p["images"][0]["thumb_url"] == f"/images/{p['image_ids'][0]}/thumb"
    sim = client.get("/products/Anjou/similar", params={"k": 4}).json()
    ids = [h["id"] for h in sim["results"]]
    assert len(ids) == 4 and "Anjou" not in ids
    veg = client.get("/products/Anjou/similar", params=[("k", 5), ("filter", "group=Vegetables")]).json()
    assert all(h["metadata"]["group"] == "Vegetables" for h in veg["results"])
    assert "not found" in _error(client.get("/products/No-Such-Thing"), 404, "not_found")
    _error(client.get("/products/No-Such-Thing/similar"), 404, "not_found")
    _error(client.get("/products/Anjou/similar", params={"k": 0}), 422)


def test_facets(client):
    facets = client.get("/facets").json()
    assert "group" in facets and sum(facets["group"].values()) == 81
    assert "name" not in facets  # one value per product: not a filter


# -- images ------------------------------------------------------------------------
def test_images_by_id_only(client, demo_ws):
    row = demo_ws.catalog.images()[0]
    resp = client.get(f"/images/{row.id}")
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/jpeg"
    assert resp.content == Path(row.local_path).read_bytes()
    again = client.get(f"/images/{row.id}", headers={"If-None-Match": resp.headers["etag"]})
    assert again.status_code == 304
    thumb = client.get(f"/images/{row.id}/thumb")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= Settings().thumb_size
    assert client.get(f"/images/{row.id}/thumb").content == thumb.content  # cached
    _error(client.get("/images/999999"), 404, "not_found")
    for bad in ("-1", "abc", "..%2F..%2Fetc%2Fpasswd", str(2**70)):
        assert client.get(f"/images/{bad}").status_code in (404, 422)


# -- CORS and settings ---------------------------------------------------------------
def test_cors_is_configurable(demo_ws):
    with TestClient(create_app(demo_ws, Settings(cors_origins=["https://shop.example"]))) as c:
        pre = c.options("/search", headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"})
        assert pre.headers.get("access-control-allow-origin") == "https://shop.example"
        other = c.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    with TestClient(create_app(demo_ws, Settings())) as c:
        assert "access-control-allow-origin" not in c.get("/health", headers={"Origin": "https://shop.example"}).headers


def test_settings_from_env_and_config_file(tmp_path, monkeypatch):
    from lookalike.errors import BadInput

    (tmp_path / "lookalike.toml").write_text('[serve]\napi_key = "from-file"\nmax_upload_mb = 2\n')
    monkeypatch.delenv("LOOKALIKE_API_KEY", raising=False)
    s = Settings.load(tmp_path)
    assert s.api_key == "from-file" and s.max_upload_bytes == 2 * 1024 * 1024
    monkeypatch.setenv("LOOKALIKE_API_KEY", "from-env")
    monkeypatch.setenv("LOOKALIKE_CORS_ORIGINS", "https://a.example, https://b.example")
    s = Settings.load(tmp_path, request_timeout_s=5)
    assert s.api_key == "from-env" and s.cors_origins == ["https://a.example", "https://b.example"]
    assert s.request_timeout_s == 5
    monkeypatch.setenv("LOOKALIKE_MAX_UPLOAD_MB", "lots")
    with pytest.raises(BadInput, match="max_upload_mb"):
        Settings.load(tmp_path)
    with pytest.raises(BadInput, match="known settings"):
        Settings.from_dict({"apikey": "x"})


def test_serving_does_not_import_torch(demo_ws, query, tmp_path):
    photo = tmp_path / "q.jpg"
    photo.write_bytes(query[0])
    code = (
        "import sys\nfrom fastapi.testclient import TestClient\nfrom lookalike.serve.app import create_app\n"
        f"c = TestClient(create_app({str(demo_ws.root)!r}))\n"
        f"r = c.post('/search', files={{'files': open({str(photo)!r}, 'rb')}})\n"
        "assert r.status_code == 200, r.text\nassert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_serving_never_exports_a_missing_model(demo_ws, query, tmp_path, monkeypatch):
    """With no exported ONNX file, /search says how to export it (503) instead of running torch; similar still works."""
    monkeypatch.setenv("LOOKALIKE_CACHE", str(tmp_path))  # an empty model cache
    with TestClient(create_app(demo_ws, Settings())) as c:
        msg = _error(_search(c, photo=query[0]), 503)
        assert "lookalike index --model efficientnet_lite0" in msg
        assert c.get("/products/Granny-Smith/similar?k=3").status_code == 200  # needs stored vectors only
    assert not list(tmp_path.rglob("*.onnx"))
