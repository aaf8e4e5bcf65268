"""POST /search: uploaded photos or a photo URL in, similar products out."""

from __future__ import annotations

import importlib.util
import time
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile

from ... import images
from ...errors import BadImage, BadInput
from ...search import parse_filters
from ..deps import get_state, image_urls, parse_crop, read_uploads, render_hit, require_multipart
from ..errors import ERROR_RESPONSES
from ..schemas import SearchOut
from ..settings import Settings

router = APIRouter(tags=["search"])
MAX_K = 100


@router.post("/search", response_model=SearchOut, responses=ERROR_RESPONSES,
             dependencies=[Depends(require_multipart)])
def search(
    request: Request,
    files: list[UploadFile] | None = File(None, description="Query photo(s); several are combined into one query"),
    url: str | None = Form(None, description="An http(s) URL of a query photo, instead of or beside files"),
    k: int = Form(10, ge=1, le=MAX_K, description="How many products"),
    filter: list[str] | None = Form(None, description="key=value metadata filter; repeat to AND, a,b means OR"),
    crop: str | None = Form(None, description="x0,y0,x1,y1 in original image pixels; or auto, none, "
                                            "center, saliency, multiscale[:top1|margin|fuse]"),
    regions: int | None = Form(None, ge=1, le=10, description="With crop=auto: how many distinct items to search"),
    model: str | None = Form(None, description="The model to search with [server default]"),
    combine: Literal["mean", "max"] = Form("mean", description="How several photos combine"),
) -> dict:
    """Which catalog products look like these photos?"""
    t0 = time.perf_counter()
    state = get_state(request)
    searcher = state.searcher(model)
    imgs = _query_images(files, url, state.settings)
    filters = parse_filters(filter)
    box = _manual_box(crop)
    out: dict = {"model": searcher.model, "k": k, "query": {"images": len(imgs), "crop": list(box) if box else None}}
    wants_cropper = bool(crop and box is None and crop.strip() not in ("", "none"))
    if wants_cropper or regions:
        out.update(_search_regions(searcher, imgs, k, filters, crop or "auto", regions or 1))
        out["query"]["crop"] = out["query"]["crop"] or (crop or "auto").strip()
        out["query"]["cropper"] = out.pop("cropper")
    else:
        if box is not None:
            if len(imgs) != 1:
                raise BadInput(f"a crop box applies to one photo, got {len(imgs)}: send one file with crop=")
            imgs = [images.crop(imgs[0], box)]
        out["results"] = [render_hit(h) for h in searcher.search_images(imgs, k, filters, combine=combine)]
        if box is not None:  # the box used, in the same shape as crop=auto answers
            out["results"] = [{**h, "box": list(box)} for h in out["results"]]
            out["regions"] = [{"box": list(box), "score": 1.0, "results": out["results"]}]
    out["took_ms"] = round((time.perf_counter() - t0) * 1000, 2)
    return out


def _manual_box(crop: str | None) -> tuple[int, int, int, int] | None:
    """A box when crop looks like numbers; None for empty, 'none', or a cropper name."""
    if crop is None or not crop.strip() or crop.strip() == "none":
        return None
    if any(ch.isalpha() for ch in crop):
        return None
    return parse_crop(crop)


def _query_images(files: list[UploadFile] | None, url: str | None, settings: Settings) -> list:
    """Decode every uploaded photo and the URL's photo; bad ones raise BadImage (422)."""
    uploads = read_uploads(files, settings.max_upload_bytes)
    if url:
        uploads.append((url, _fetch(url, settings)))
    if not uploads:
        raise BadInput("give a query photo: -F files=@photo.jpg (repeat for several) or -F url=https://...")
    if len(uploads) > settings.max_files:
        raise BadInput(f"{len(uploads)} photos in one search; the limit is {settings.max_files}")
    return [images.decode(data, name, max_pixels=settings.max_pixels) for name, data in uploads]


def _fetch(url: str, settings: Settings) -> bytes:
    from ...download import fetch

    if not settings.allow_urls:
        raise BadInput("this server does not fetch query photos from URLs (allow_urls is off): upload the file")
    if not url.lower().startswith(("http://", "https://")):
        raise BadInput(f"url {url[:80]!r} must start with http:// or https://")
    try:
        return fetch(url, timeout=min(10.0, settings.request_timeout_s), retries=1,
                     max_bytes=settings.max_upload_bytes)
    except BadImage as e:
        raise BadImage(f"could not fetch the query photo: {e.message}") from None


def _search_regions(searcher, imgs: list, k: int, filters: dict, crop: str, regions: int) -> dict:
    """crop=auto (or a cropper name): find the item(s) in the photo, then search each box."""
    if importlib.util.find_spec("lookalike.crop") is None:
        raise BadInput("crop=auto and regions= need the lookalike.crop module, which this install lacks. "
                       "Send a box instead: crop=x0,y0,x1,y1 in image pixels")
    from ...crop import parse_crop as parse_crop_spec
    from ...crop import regions_to_dict, search_with_crop

    if len(imgs) != 1:
        raise BadInput(f"crop={crop} works on one photo, got {len(imgs)}: send one file")
    if crop.strip().startswith("onnx-detector"):  # a request must not make the server open files by path
        raise BadInput("crop=onnx-detector is available from the command line only (it loads a model file); "
                       "over the API use crop=auto, saliency, multiscale, center, none or a box x0,y0,x1,y1")
    found = regions_to_dict(search_with_crop(searcher, imgs[0], k, filters, crop=crop, regions=regions))
    for region in found:
        region["results"] = [{**h, **image_urls(h["image_id"])} for h in region["results"]]
    spec = parse_crop_spec(crop)  # what auto stands for, or "box" for a manual one
    return {"regions": found, "results": found[0]["results"] if found else [],
            "cropper": "box" if isinstance(spec, tuple) else spec}
