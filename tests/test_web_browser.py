"""The web app in headless Chromium (Playwright): upload, crop, filters, click-through, staff view.

Each step's screenshot goes to test-artifacts/. With LOOKALIKE_DOCS_SCREENSHOTS=1 the shopper view is also
saved to docs/img/ (shopper_desktop.png, shopper_phone.png) for the README.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
KEY = "browser-test-key"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo_ws, tmp_path_factory):
    """uvicorn on a free loopback port, over a private copy of the demo workspace."""
    import uvicorn

    from lookalike.serve.app import create_app
    from lookalike.serve.settings import Settings
    from lookalike.workspace import Workspace

    demo_ws.catalog.conn().execute("PRAGMA wal_checkpoint(FULL)")
    root = tmp_path_factory.mktemp("browser") / "ws"
    shutil.copytree(demo_ws.root, root)
    port = _free_port()
    config = uvicorn.Config(create_app(Workspace(root), Settings(api_key=KEY)), host="127.0.0.1", port=port,
                            log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright; skipped (with the reason) when either is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"needs Chromium at {CHROMIUM}: apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright: pip install playwright")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh desktop-sized page."""
    ctx = browser.new_context(viewport=DESKTOP)
    pg = ctx.new_page()
    yield pg
    ctx.close()


def _shot(page, name: str, docs_name: str | None = None) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if docs_name and os.environ.get("LOOKALIKE_DOCS_SCREENSHOTS") == "1":
        from PIL import Image

        # 256 colours keep the committed PNGs a third of the size, with no visible loss at this scale
        img = Image.open(io.BytesIO(page.screenshot())).convert("RGB").quantize(256, Image.Quantize.MEDIANCUT)
        img.save(ROOT / "docs" / "img" / docs_name, optimize=True)


def _upload(page, server: str, photo: Path) -> dict:
    """Open the shopper view, choose a photo, and return the /search answer it showed."""
    page.goto(server + "/")
    page.wait_for_selector("[data-filter]")  # facets loaded
    with page.expect_response("**/search") as resp:
        page.set_input_files("#file", str(photo))
    page.wait_for_selector("#results .card")
    page.wait_for_function("[...document.images].every(i => i.complete)")
    return resp.value.json()


def _card_ids(page, grid: str = "#results") -> list[str]:
    return page.eval_on_selector_all(f"{grid} .card", "cards => cards.map(c => c.dataset.id)")


def test_upload_shows_results(page, server, demo_queries):
    page.goto(server + "/")
    _shot(page, "01_empty")
    photo, right = demo_queries[0]
    out = _upload(page, server, photo)
    ids = _card_ids(page)
    assert ids == [h["id"] for h in out["results"]] and right in ids[:5]
    first = page.locator("#results .card").first
    assert first.locator(".name").inner_text() and first.locator(".score").inner_text()
    assert "look like your photo" in page.inner_text("#status")
    _shot(page, "02_results", "shopper_desktop.png")


def test_crop_box_searches_the_boxed_item(page, server, demo_queries):
    photo, _ = demo_queries[0]
    _upload(page, server, photo)
    box = page.locator("#preview").bounding_box()
    with page.expect_response("**/search") as resp:
        page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.15)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.9, steps=6)
        page.mouse.up()
    x0, _, _, y1 = resp.value.json()["query"]["crop"]  # in the photo's own pixels, not screen pixels
    natural = page.evaluate("[document.getElementById('preview').naturalWidth, "
                            "document.getElementById('preview').naturalHeight]")
    assert abs(x0 - 0.2 * natural[0]) < 0.02 * natural[0] and abs(y1 - 0.9 * natural[1]) < 0.02 * natural[1]
    page.wait_for_function("document.getElementById('status').textContent.includes('boxed item')")
    assert page.is_visible("#box") and page.is_visible("#clear-box")
    assert _card_ids(page)
    _shot(page, "03_crop")
    with page.expect_response("**/search") as resp:
        page.click("#clear-box")
    assert resp.value.json()["query"]["crop"] is None


def test_filters_narrow_results(page, server, demo_queries):
    _upload(page, server, demo_queries[1][0])
    with page.expect_response("**/search") as resp:
        page.select_option("select[name=group]", "Fruit")
    results = resp.value.json()["results"]
    assert results and all(h["metadata"]["group"] == "Fruit" for h in results)
    page.wait_for_function(f"document.querySelectorAll('#results .card').length === {len(results)}")
    assert _card_ids(page) == [h["id"] for h in results]
    _shot(page, "04_filtered")


def test_click_through_to_similar_products(page, server, demo_queries):
    _upload(page, server, demo_queries[0][0])
    first_id = _card_ids(page)[0]
    page.locator("#results .card").first.click()
    page.wait_for_selector("#similar .card")
    assert page.inner_text("#p-name")
    similar = _card_ids(page, "#similar")
    assert similar and first_id not in similar
    _shot(page, "05_product")
    page.locator("#similar .card").first.click()  # keep browsing by similarity
    page.wait_for_function(f"location.hash === '#/product/{similar[0]}'.replace(/ /g, '%20')")
    page.wait_for_function(f"!{json.dumps(similar)}.every((id, i) => "
                           "document.querySelectorAll('#similar .card')[i]?.dataset.id === id)")
    assert similar[0] not in _card_ids(page, "#similar")
    _shot(page, "06_product_next")
    page.click("#back")
    page.wait_for_selector("#search-view:not([hidden])")
    assert _card_ids(page)  # the results are still there


def test_phone_layout(browser, server, demo_queries):
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    try:
        _upload(page, server, demo_queries[0][0])
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"page scrolls sideways on a phone ({width}px)"
        columns = page.evaluate("getComputedStyle(document.getElementById('results')).gridTemplateColumns")
        assert len(columns.split()) == 2
        _shot(page, "07_phone", "shopper_phone.png")
    finally:
        ctx.close()


def test_staff_view(page, server, demo_queries):
    page.goto(server + "/staff")
    page.fill("#api-key", "wrong")
    page.click("#key-form button")
    page.wait_for_function("document.getElementById('key-msg').textContent.includes('wrong API key')")
    page.fill("#api-key", KEY)
    page.click("#key-form button")
    page.wait_for_selector("#stats .stat")
    assert "81" in page.inner_text("#stats")
    assert "No ingestion errors" in page.inner_text("#problems")
    page.fill("input[name=id]", "staff-added")
    page.fill("input[name=name]", "Staff added product")
    page.set_input_files("input[name=files]", str(demo_queries[2][0]))
    page.click("#add-form button")
    page.wait_for_function("document.getElementById('add-msg').textContent.includes('searchable now')", timeout=60000)
    page.click("#reindex")
    page.wait_for_function("document.getElementById('reindex-msg').textContent.includes('done')", timeout=60000)
    assert "82" in page.inner_text("#stats")
    _shot(page, "08_staff")
