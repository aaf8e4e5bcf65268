"""URL images are downloaded politely from a real HTTP server on loopback: retries, timeouts, size caps."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lookalike.download import fetch
from lookalike.errors import BadImage
from lookalike.ingest import ingest
from lookalike.workspace import Workspace

JPEG = sorted((Path(__file__).parents[1] / "demo" / "images").glob("*.jpg"))[0].read_bytes()


class Handler(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        n = Handler.hits[self.path] = Handler.hits.get(self.path, 0) + 1
        if self.path == "/ok.jpg" or (self.path == "/flaky.jpg" and n > 1):
            self._send(200, JPEG)
        elif self.path == "/flaky.jpg":
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.end_headers()
        elif self.path == "/slow.jpg":
            time.sleep(1.5)
            self._send(200, JPEG)
        elif self.path == "/huge.jpg":
            self.send_response(200)
            self.send_header("Content-Length", str(10**9))
            self.end_headers()
        elif self.path == "/html.jpg":
            self._send(200, b"<html>not found page</html>")
        else:
            self.send_response(404)
            self.end_headers()

    def _send(self, code, body):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (the timeout test)
            pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_fetch_ok_and_retry_after_503(server):
    assert fetch(f"{server}/ok.jpg") == JPEG
    assert fetch(f"{server}/flaky.jpg", backoff=0.01) == JPEG
    assert Handler.hits["/flaky.jpg"] == 2


def test_fetch_404_is_not_retried(server):
    with pytest.raises(BadImage, match="HTTP 404"):
        fetch(f"{server}/gone.jpg", backoff=0.01)
    assert Handler.hits["/gone.jpg"] == 1


def test_fetch_timeout_and_size_cap(server):
    with pytest.raises(BadImage, match="download failed after 2 tries"):
        fetch(f"{server}/slow.jpg", timeout=0.3, retries=1, backoff=0.01)
    with pytest.raises(BadImage, match="exceeds"):
        fetch(f"{server}/huge.jpg")


def test_ingest_urls_stores_blobs_and_reports_bad_ones(server, tmp_path):
    (tmp_path / "cat.csv").write_text(
        f"id,image_url\nA,{server}/ok.jpg\nB,{server}/nothing-here.jpg\nC,{server}/html.jpg\n"
    )
    ws = Workspace(tmp_path / "ws")
    rep = ingest(ws, tmp_path / "cat.csv")
    assert rep.new == 1 and rep.bad == 2
    row = ws.catalog.image(ws.catalog.product("A")["image_ids"][0])
    assert Path(row.local_path).read_bytes() == JPEG and Path(row.local_path).is_relative_to(ws.blob_dir)
    before = Handler.hits["/ok.jpg"]
    assert ingest(ws, tmp_path / "cat.csv").unchanged == 1
    assert Handler.hits["/ok.jpg"] == before  # an ingested URL is not downloaded again
