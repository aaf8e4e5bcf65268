"""Ingest: folders, CSV, JSONL; bad rows and images are reported and the rest goes in; re-runs are incremental."""

from __future__ import annotations

import json
import shutil

import pytest

from lookalike.catalog_readers import CatalogOptions
from lookalike.errors import BadInput
from lookalike.ingest import ingest
from lookalike.workspace import Workspace

DEMO_IMAGES = sorted((__import__("pathlib").Path(__file__).parents[1] / "demo" / "images").glob("*.jpg"))


def _copy(dst, names: dict[str, int]):
    """Copy demo images to dst/<name> (name -> index into the demo images)."""
    for name, i in names.items():
        (dst / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DEMO_IMAGES[i], dst / name)


def test_folder_with_subfolders_and_flat_files(tmp_path):
    root = tmp_path / "photos"
    _copy(root, {"p1/a.jpg": 0, "p1/b.jpg": 1, "p2/a.jpg": 2, "loose.jpg": 3})
    (root / "notes.txt").write_text("not an image")
    ws = Workspace(tmp_path / "ws")
    rep = ingest(ws, root)
    assert rep.new == 4 and rep.bad == 0
    assert ws.catalog.products().keys() == {"p1", "p2", "loose"}
    assert len(ws.catalog.product("p1")["image_ids"]) == 2
    assert any("notes.txt" in item and "not an image type" in why for item, why in rep.problems)


def test_csv_every_kind_of_bad_row_is_reported_and_the_rest_kept(tmp_path):
    _copy(tmp_path, {"img/a.jpg": 0, "img/b.jpg": 1, "img/c.jpg": 2, "img/d.jpg": 3})
    (tmp_path / "img/empty.jpg").write_bytes(b"")
    (tmp_path / "img/text.jpg").write_text("not a jpeg")
    data = DEMO_IMAGES[4].read_bytes()
    (tmp_path / "img/trunc.jpg").write_bytes(data[: len(data) // 3])
    (tmp_path / "cat.csv").write_text(
        "id,image,back,colour\n"
        "A,img/a.jpg,img/b.jpg,red\n"  # two image columns
        "A,img/c.jpg,,red\n"  # a second row for the same product
        "B,img/missing.jpg,,blue\n"
        "C,img/empty.jpg,,green\n"
        "D,img/text.jpg,,green\n"
        "E,img/trunc.jpg,,green\n"
        "F,img/d.jpg,extra,field,oops\n"  # wrong number of fields
        ",img/d.jpg,,green\n"  # no id
        "A,img/a.jpg,,blue\n"  # duplicate image and conflicting metadata
        "G,img/d.jpg,,black\n"
    )
    ws = Workspace(tmp_path / "ws")
    rep = ingest(ws, tmp_path / "cat.csv", CatalogOptions(image_columns=["image", "back"]))
    reasons = " | ".join(f"{i}: {r}" for i, r in rep.problems)
    for expected in ("file not found", "empty file", "not an image", "corrupt or truncated", "has 5 fields",
                     "empty 'id'", "duplicate id 'A' with different metadata", "duplicate image"):
        assert expected in reasons, expected
    assert rep.bad == 4
    assert len(ws.catalog.product("A")["image_ids"]) == 3
    assert ws.catalog.product("A")["metadata"] == {"colour": "red"}
    assert len(ws.catalog.product("G")["image_ids"]) == 1
    assert len(ws.catalog.images(status="error")) == 4
    assert ws.catalog.problems()  # kept in the workspace for `lookalike problems`


def test_unknown_column_names_the_columns_and_the_flag(tmp_path):
    (tmp_path / "cat.csv").write_text("sku,path,category\nA,a.jpg,x\n")
    with pytest.raises(BadInput, match=r"column 'image' not found in cat.csv; columns are: sku, path, category\. Use --image-column"):
        ingest(Workspace(tmp_path / "ws"), tmp_path / "cat.csv", CatalogOptions(image_columns=["image"]))


def test_jsonl_with_image_lists_and_a_bad_line(tmp_path):
    _copy(tmp_path, {"a.jpg": 0, "b.jpg": 1, "c.jpg": 2})
    lines = [
        json.dumps({"id": "X", "images": ["a.jpg", "b.jpg"], "category": "fruit"}),
        "{not json",
        json.dumps({"id": "Y", "images": "c.jpg", "category": "veg"}),
    ]
    (tmp_path / "cat.jsonl").write_text("\n".join(lines) + "\n")
    ws = Workspace(tmp_path / "ws")
    rep = ingest(ws, tmp_path / "cat.jsonl")
    assert rep.new == 3 and len(rep.problems) == 1 and "not valid JSON" in rep.problems[0][1]
    assert ws.catalog.product("X")["metadata"] == {"category": "fruit"}


def test_rerun_is_incremental_changed_files_are_detected_and_missing_products_removed(tmp_path):
    _copy(tmp_path, {"a.jpg": 0, "b.jpg": 1, "c.jpg": 2})
    csv = tmp_path / "cat.csv"
    csv.write_text("id,image\nA,a.jpg\nB,b.jpg\nC,c.jpg\n")
    ws = Workspace(tmp_path / "ws")
    assert ingest(ws, csv).new == 3
    again = ingest(ws, csv)
    assert (again.new, again.changed, again.unchanged) == (0, 0, 3)
    shutil.copyfile(DEMO_IMAGES[5], tmp_path / "b.jpg")  # same path, new content
    csv.write_text("id,image\nA,a.jpg\nB,b.jpg\n")  # C is gone from the catalog
    kept = ingest(ws, csv, keep_missing=True)
    assert (kept.changed, kept.unchanged, kept.removed_products) == (1, 1, 0)
    assert "C" in ws.catalog.products()
    removed = ingest(ws, csv)
    assert removed.removed_products == 1 and "C" not in ws.catalog.products()


def test_a_second_catalog_does_not_remove_the_first(tmp_path):
    _copy(tmp_path, {"a.jpg": 0, "b.jpg": 1})
    (tmp_path / "one.csv").write_text("id,image\nA,a.jpg\n")
    (tmp_path / "two.csv").write_text("id,image\nB,b.jpg\n")
    ws = Workspace(tmp_path / "ws")
    ingest(ws, tmp_path / "one.csv")
    ingest(ws, tmp_path / "two.csv")
    assert ws.catalog.products().keys() == {"A", "B"}
