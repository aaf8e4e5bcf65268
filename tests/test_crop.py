"""Query cropping: croppers find the product in a photo, manual boxes are honoured, regions do not overlap."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image, ImageFilter

from lookalike import images
from lookalike.crop import (
    create_cropper,
    find_regions,
    is_cropper,
    list_croppers,
    parse_crop,
    regions_to_dict,
    register_cropper,
    search_with_crop,
)
from lookalike.crop.none import NoCropper
from lookalike.crop.onnx_detector import parse_detections
from lookalike.crop.regions import iou, iou_matrix, nms
from lookalike.errors import BadInput, NotFound

PRODUCT = "Oatly-Natural-Oatghurt"
PASTE_BOX = (450, 300, 690, 510)  # where the product goes in the 700 x 520 composite


@pytest.fixture(scope="module")
def searcher(demo_ws):
    from lookalike.search import Searcher

    return Searcher(demo_ws)


def composite(root, product: str = PRODUCT, box=PASTE_BOX, blur: float = 0) -> Image.Image:
    """A real shopper photo enlarged to 700 x 520 as background, with a product's catalog image pasted at box."""
    bg = images.load(root / "demo/queries/Ginger__Ginger_011.jpg").resize((700, 520))
    if blur:
        bg = bg.filter(ImageFilter.GaussianBlur(blur))
    item = images.load(root / f"demo/images/{product}_iconic.jpg").resize((box[2] - box[0], box[3] - box[1]))
    bg.paste(item, box[:2])
    return bg


@pytest.fixture(scope="module")
def root():
    from pathlib import Path

    return Path(__file__).resolve().parents[1]


# -- registry ----------------------------------------------------------------
def test_registry_lists_builtins_and_rejects_unknown_names():
    assert {"none", "saliency", "multiscale", "onnx-detector"} <= set(list_croppers())
    assert is_cropper("saliency") and not is_cropper("yolo")
    with pytest.raises(BadInput, match="valid croppers: .*multiscale.*none"):
        create_cropper("yolo")
    with pytest.raises(BadInput, match="unknown crop 'yolo'.*x0,y0,x1,y1"):
        parse_crop("yolo")


def test_register_cropper_warns_on_overwrite():
    register_cropper("test-none", NoCropper)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        register_cropper("test-none", NoCropper)
    assert any("already registered" in str(w.message) for w in caught)
    assert isinstance(create_cropper("test-none"), NoCropper)


def test_parse_crop_reads_boxes_and_names():
    assert parse_crop("10, 20,30,40") == (10, 20, 30, 40)
    assert parse_crop([1, 2, 3.4, 4]) == (1, 2, 3, 4)
    assert parse_crop("multiscale") == "multiscale"
    assert parse_crop("auto") == "multiscale:fuse"  # the best on grocery_store (docs/quality.md)
    with pytest.raises(BadInput, match="4 numbers"):
        parse_crop((1, 2, 3))


def test_crop_specs_set_the_croppers_option():
    from lookalike.crop.search import get_cropper

    assert get_cropper("multiscale:margin").select == "margin"
    assert get_cropper("saliency:spectral").method == "spectral"
    assert get_cropper("center:0.5").scale == 0.5
    with pytest.raises(BadInput, match="unknown multiscale select 'best'; use one of top1, margin, fuse"):
        get_cropper("multiscale:best")
    with pytest.raises(BadInput, match="center crop scale must be a number between 0.05 and 1, got 'big'"):
        get_cropper("center:big")


# -- geometry ----------------------------------------------------------------
def test_iou_and_nms_against_a_loop():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (30, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 60, (30, 2))], 1)
    m = iou_matrix(boxes)
    for i in range(30):
        for j in range(30):
            assert m[i, j] == pytest.approx(iou(boxes[i], boxes[j]))
    scores = rng.uniform(size=30)
    keep = nms(boxes, scores, 0.3)
    assert all(m[a, b] <= 0.3 for a in keep for b in keep if a != b)
    dropped = set(range(30)) - set(keep)  # every dropped box overlaps a better kept one
    assert all(any(m[d, k] > 0.3 and scores[k] >= scores[d] for k in keep) for d in dropped)


# -- manual boxes ------------------------------------------------------------
def test_manual_box_is_honoured_exactly(searcher, demo_queries):
    img = images.load(demo_queries[0][0])
    found = search_with_crop(searcher, img, k=5, crop="40,30,300,280")
    assert [r["box"] for r in found] == [(40, 30, 300, 280)]
    direct = searcher.search_images([img.crop((40, 30, 300, 280))], 5)
    assert [h.product_id for h in found[0]["results"]] == [h.product_id for h in direct]
    assert all(h["box"] == [40, 30, 300, 280] for h in regions_to_dict(found)[0]["results"])


@pytest.mark.parametrize("box, message", [  # each message names the bad box and what to type instead
    ("0,0,400,100", r"\(0, 0, 400, 100\) lies outside the 348x348 image: use 0<=x0<x1<=348, 0<=y0<y1<=348"),
    ("-5,0,100,100", r"\(-5, 0, 100, 100\) lies outside"),
    ("50,50,50,120", r"empty crop box \(50, 50, 50, 120\): use x0,y0,x1,y1 with x1>x0 and y1>y0"),
    ("90,50,10,120", "empty crop box"),
    ("10,20,30", "unknown crop '10,20,30'.*a box x0,y0,x1,y1"),
])
def test_bad_boxes_get_clear_errors(searcher, demo_queries, box, message):
    img = images.load(demo_queries[0][0])
    with pytest.raises(BadInput, match=message):
        search_with_crop(searcher, img, crop=box)


def test_regions_must_be_positive(searcher, demo_queries):
    img = images.load(demo_queries[0][0])
    with pytest.raises(BadInput, match="regions must be between 1"):
        search_with_crop(searcher, img, regions=0)


# -- croppers find the product ------------------------------------------------
@pytest.mark.slow
def test_multiscale_finds_a_pasted_product(searcher, root):
    img = composite(root)
    found = search_with_crop(searcher, img, k=5, crop=create_cropper("multiscale", grid=3, window=0.4, select="top1"))
    assert found[0]["results"][0].product_id == PRODUCT
    assert iou(found[0]["box"], PASTE_BOX) > 0.4


def test_auto_fuses_the_whole_photo_and_its_centre_crops(searcher, demo_queries):
    img = images.load(demo_queries[0][0])
    (region,) = find_regions(searcher, img, crop="auto")
    assert region.box == (0, 0, img.width, img.height)
    boxes = create_cropper("multiscale").boxes(img.width, img.height)
    assert boxes[0] == (0, 0, img.width, img.height) and len(boxes) == 3
    mean = searcher.embedder.embed([img.crop(b) for b in boxes]).mean(axis=0)
    np.testing.assert_allclose(region.vec, mean / np.linalg.norm(mean), atol=1e-5)
    found = search_with_crop(searcher, img, k=5, crop="auto")
    direct = searcher.search_vectors((mean / np.linalg.norm(mean))[None], 5)
    assert [h.product_id for h in found[0]["results"]] == [h.product_id for h in direct]


def test_saliency_box_covers_a_product_on_a_plain_background(root):
    img = composite(root, blur=12)
    for method in ("spectral", "edges"):
        region = create_cropper("saliency", method=method).propose(img, 1)[0]
        assert iou(region.box, PASTE_BOX) > 0.3, method


@pytest.mark.slow
def test_multi_region_mode_returns_distinct_boxes_with_their_own_results(searcher, root):
    img = composite(root)
    for crop in ("multiscale", "saliency"):
        found = search_with_crop(searcher, img, k=3, crop=crop, regions=3)
        assert 2 <= len(found) <= 3
        boxes = [r["box"] for r in found]
        assert all(iou(a, b) <= 0.3 for i, a in enumerate(boxes) for b in boxes[i + 1:]), (crop, boxes)
        assert all(len(r["results"]) == 3 for r in found)


def test_none_is_the_whole_photo(searcher, demo_queries):
    img = images.load(demo_queries[0][0])
    found = search_with_crop(searcher, img, k=3, crop="none")
    assert found[0]["box"] == (0, 0, img.width, img.height)
    assert [h.product_id for h in found[0]["results"]] == [h.product_id for h in searcher.search_images([img], 3)]


# -- onnx detector -------------------------------------------------------------
def tiny_detector(path, outputs: np.ndarray, size: int = 320):
    """An ONNX 'detector' that ignores its input and always outputs these detections."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node("Constant", [], ["dets"], value=numpy_helper.from_array(outputs.astype(np.float32), "v"))
    graph = helper.make_graph(
        [node], "tiny_detector", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("dets", TensorProto.FLOAT, list(outputs.shape))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_onnx_detector_xyxy_boxes_are_scaled_thresholded_and_suppressed(tmp_path):
    dets = np.array([[[10, 20, 110, 220, 0.9, 1], [12, 22, 112, 218, 0.8, 1],  # a near-duplicate, suppressed
                      [200, 200, 300, 300, 0.7, 2], [0, 0, 50, 50, 0.1, 0]]])  # the last is under the threshold
    path = tiny_detector(tmp_path / "det.onnx", dets)
    cropper = create_cropper("onnx-detector", path=path, input_size=320)
    regions = cropper.propose(Image.new("RGB", (640, 480)), 5)
    assert [r.box for r in regions] == [(20, 30, 220, 330), (400, 300, 600, 450)]
    only2 = create_cropper("onnx-detector", path=path, input_size=320, classes=[2])
    assert [r.box for r in only2.propose(Image.new("RGB", (640, 480)), 5)] == [(400, 300, 600, 450)]


def test_onnx_detector_yolov8_output(tmp_path):
    # 4 + 2 classes rows, 2 candidates as columns: (cx, cy, w, h, class scores)
    dets = np.array([[[160, 40], [160, 40], [100, 20], [60, 20], [0.2, 0.05], [0.95, 0.1]]])
    path = tiny_detector(tmp_path / "yolo.onnx", dets)
    cropper = create_cropper("onnx-detector", path=path, input_size=320, output_format="yolov8")
    regions = cropper.propose(Image.new("RGB", (320, 320)), 3)
    assert [r.box for r in regions] == [(110, 130, 210, 190)]
    assert regions[0].score == pytest.approx(0.95)


def test_onnx_detector_with_no_detection_falls_back_to_the_whole_photo(tmp_path):
    path = tiny_detector(tmp_path / "det.onnx", np.array([[[0, 0, 50, 50, 0.1, 0]]]))
    regions = create_cropper("onnx-detector", path=path, input_size=320).propose(Image.new("RGB", (64, 48)))
    assert [r.box for r in regions] == [(0, 0, 64, 48)]


def test_onnx_detector_errors_name_the_fix(tmp_path):
    with pytest.raises(BadInput, match="onnx-detector:PATH.onnx"):
        create_cropper("onnx-detector")
    with pytest.raises(NotFound, match="not found"):
        create_cropper("onnx-detector", path=tmp_path / "missing.onnx")
    with pytest.raises(BadInput, match="yolov5"):
        parse_detections(np.zeros((1, 4, 3)), "xyxy")


# -- CLI -----------------------------------------------------------------------
def test_cli_search_with_a_box_draws_it_and_reports_it(demo_ws, demo_queries, tmp_path):
    import json

    from typer.testing import CliRunner

    from lookalike.cli import load_commands

    out = tmp_path / "grid.png"
    args = ["search", str(demo_queries[0][0]), "-w", str(demo_ws.root), "-k", "3", "--crop", "20,30,300,330",
            "--grid", str(out), "--json"]
    res = CliRunner().invoke(load_commands(), args)
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout[res.stdout.index("{"):])
    assert body["regions"][0]["box"] == [20, 30, 300, 330]
    assert len(body["results"]) == 3 and all(h["box"] == [20, 30, 300, 330] for h in body["results"])
    assert Image.open(out).size[0] > 0
    args = ["search", str(demo_queries[0][0]), "-w", str(demo_ws.root), "-k", "2", "--crop", "auto",
            "--regions", "2", "--json"]
    res = CliRunner().invoke(load_commands(), args)
    assert res.exit_code == 0, res.output
    regions = json.loads(res.stdout[res.stdout.index("{"):])["regions"]
    assert len(regions) == 2 and iou(regions[0]["box"], regions[1]["box"]) <= 0.3


def test_onnx_detector_by_spec_reads_options_beside_the_model(tmp_path, searcher):
    dets = np.array([[[160, 40], [160, 40], [100, 20], [60, 20], [0.2, 0.05], [0.95, 0.1]]])
    path = tiny_detector(tmp_path / "shelf.onnx", dets)
    (tmp_path / "shelf.json").write_text('{"input_size": 320, "output_format": "yolov8"}')
    found = find_regions(searcher, Image.new("RGB", (640, 320)), crop=f"onnx-detector:{path}")
    assert [r.box for r in found] == [(220, 130, 420, 190)]
    bad = tiny_detector(tmp_path / "bad.onnx", dets)
    (tmp_path / "bad.json").write_text('{"size": 320}')
    with pytest.raises(BadInput, match="unknown detector options.*input_size"):
        find_regions(searcher, Image.new("RGB", (64, 64)), crop=f"onnx-detector:{bad}")


@pytest.mark.slow
def test_shop_the_look_finds_two_pasted_products_in_two_regions(searcher, root):
    img = composite(root)
    img.paste(images.load(root / "demo/images/Alpro-Fresh-Soy-Milk_iconic.jpg").resize((240, 210)), (20, 20))
    found = search_with_crop(searcher, img, k=1, crop="multiscale", regions=2)
    by_product = {r["results"][0].product_id: r["box"] for r in found}
    assert set(by_product) == {PRODUCT, "Alpro-Fresh-Soy-Milk"}
    assert iou(by_product[PRODUCT], PASTE_BOX) > 0.3
    assert iou(by_product["Alpro-Fresh-Soy-Milk"], (20, 20, 260, 230)) > 0.3


# -- REST API ------------------------------------------------------------------
@pytest.fixture(scope="module")
def client(demo_ws):
    from fastapi.testclient import TestClient

    from lookalike.serve.app import create_app
    from lookalike.serve.settings import Settings

    with TestClient(create_app(demo_ws, Settings())) as c:
        yield c


def _post(client, img: Image.Image, **data):
    import io

    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92)
    return client.post("/search", files=[("files", ("q.jpg", buf.getvalue(), "image/jpeg"))],
                       data={k: str(v) for k, v in data.items()})


def test_api_manual_box_is_honoured_and_returned(client, searcher, demo_queries):
    img = images.load(demo_queries[0][0])
    resp = _post(client, img, crop="40,30,300,280", k=4)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["query"]["crop"] == [40, 30, 300, 280]
    assert [r["box"] for r in out["regions"]] == [[40, 30, 300, 280]]
    assert all(h["box"] == [40, 30, 300, 280] for h in out["results"])
    direct = searcher.search_images([images.load(demo_queries[0][0]).crop((40, 30, 300, 280))], 4)
    expected = [h.product_id for h in direct]
    # JPEG re-encoding of the upload may swap near-ties, so compare the sets of the top results
    assert out["results"][0]["id"] == expected[0] and {h["id"] for h in out["results"]} == set(expected)


@pytest.mark.parametrize("crop, message", [
    ("0,0,400,100", "outside the 348x348 image"),
    ("50,50,50,120", "empty crop box"),
    ("yolo", "unknown crop 'yolo'"),
    ("onnx-detector:/etc/hosts", "command line only"),
])
def test_api_bad_crops_get_clear_errors(client, demo_queries, crop, message):
    resp = _post(client, images.load(demo_queries[0][0]), crop=crop)
    assert resp.status_code == 400, resp.text
    assert message in resp.json()["error"]["message"]


def test_api_crop_auto_returns_the_box_it_used(client, demo_queries):
    img = images.load(demo_queries[0][0])
    out = _post(client, img, crop="auto", k=3).json()
    assert out["query"]["crop"] == "auto" and out["query"]["cropper"] == parse_crop("auto")
    (region,) = out["regions"]
    x0, y0, x1, y1 = region["box"]
    assert 0 <= x0 < x1 <= img.width and 0 <= y0 < y1 <= img.height
    assert out["results"] == region["results"] and all(h["box"] == region["box"] for h in out["results"])


@pytest.mark.slow
def test_api_regions_find_two_pasted_products_in_distinct_boxes(client, root):
    img = composite(root)
    img.paste(images.load(root / "demo/images/Alpro-Fresh-Soy-Milk_iconic.jpg").resize((240, 210)), (20, 20))
    resp = _post(client, img, crop="multiscale", regions=3, k=2)
    assert resp.status_code == 200, resp.text
    regions = resp.json()["regions"]
    boxes = [r["box"] for r in regions]
    assert 2 <= len(boxes) <= 3
    assert all(iou(a, b) <= 0.3 for i, a in enumerate(boxes) for b in boxes[i + 1:]), boxes
    tops = {r["results"][0]["id"]: r["box"] for r in regions}
    assert PRODUCT in tops and iou(tops[PRODUCT], PASTE_BOX) > 0.3
    assert "Alpro-Fresh-Soy-Milk" in tops
