"""The evaluation report and the embedding plot open in headless Chromium, offline, without errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from lookalike.evaluate.protocol import Protocol
from lookalike.evaluate.report import write_report
from lookalike.evaluate.runner import evaluate
from lookalike.viz.embedding_plot import plot_embeddings

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (no downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.skip(f"needs Chromium at {CHROMIUM}: apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs Playwright: pip install playwright")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def report_dir(demo_ws, tmp_path_factory) -> Path:
    """A real report of the demo workspace: leave-one-out by product id, per group, with its embedding plot."""
    out = tmp_path_factory.mktemp("report")
    result = evaluate(demo_ws, ["efficientnet_lite0"], Protocol(relevant="id", leave_one_out=True),
                      per=["group"], n_boot=200)
    plot_embeddings(demo_ws, "efficientnet_lite0", out / "embeddings.html", color_by="group")
    write_report(demo_ws, result, out, grid_queries=4, embedding_plot="embeddings.html")
    return out


def open_page(browser, path: Path):
    """A page on a file:// URL that records console errors and uncaught exceptions, with the network off."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors, requests


def test_report_opens_without_errors(browser, report_dir):
    page, errors, requests = open_page(browser, report_dir / "index.html")
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert "Retrieval quality" in page.title() or "lookalike evaluation" in page.title()
    assert page.locator("table").count() >= 2
    broken = page.evaluate("Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length")
    assert broken == 0 and page.locator("img").count() >= 4
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
    page.context.close()


def test_embedding_plot_renders_and_shows_thumbnails_on_hover(browser, report_dir):
    page, errors, requests = open_page(browser, report_dir / "embeddings.html")
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert page.evaluate("document.getElementById('embedding-plot').data.length") == 3  # Fruit, Packages, Vegetables
    page.evaluate("document.getElementById('embedding-plot').emit('plotly_hover', {points: [{customdata: 0}]})")
    thumb = page.locator("#thumb")
    assert thumb.is_visible() and thumb.get_attribute("src").startswith("data:image/jpeg")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "embedding_plot.png"))
    assert not [e for e in errors if "WebGL" not in e], errors  # software GL may warn without a GPU
    page.context.close()
