"""search_with_crop: find the product's box(es) in a query photo, then search each; shared by the CLI and the API."""

from __future__ import annotations

import re

import numpy as np

from .. import images
from ..errors import BadInput
from .registry import Cropper, Region, create_cropper, is_cropper, list_croppers

#: the cropper `auto` stands for: the one that measured best on grocery_store (see docs/cropping.md)
AUTO = "multiscale:fuse"
#: the crop a search uses when none is asked for
DEFAULT_CROP = "none"
MAX_REGIONS = 10

_BOX = re.compile(r"^\s*-?\d+(\.\d*)?\s*(,\s*-?\d+(\.\d*)?\s*){3}$")
_CACHE: dict[str, Cropper] = {}
#: which option the ARG of a 'name:ARG' crop spec sets
SPEC_ARGS = {"multiscale": "select", "saliency": "method", "center": "scale", "onnx-detector": "path"}


def parse_crop(crop) -> tuple[int, int, int, int] | str:
    """A manual box from 'x0,y0,x1,y1' or a 4-sequence, else the cropper spec string ('auto' resolved)."""
    if crop is None:
        return DEFAULT_CROP
    if isinstance(crop, (tuple, list)):
        if len(crop) != 4:
            raise BadInput(f"crop box {crop!r} needs 4 numbers: x0,y0,x1,y1")
        return tuple(int(round(float(v))) for v in crop)
    crop = str(crop).strip()
    if _BOX.match(crop):
        return tuple(int(round(float(v))) for v in crop.split(","))
    if crop == "auto":
        return AUTO
    name = crop.partition(":")[0]
    if not is_cropper(name):
        raise BadInput(f"unknown crop {crop!r}: use auto, none, a cropper ({', '.join(list_croppers())}), "
                       "multiscale:top1|margin|fuse, saliency:edges|spectral, onnx-detector:PATH.onnx, "
                       "or a box x0,y0,x1,y1 in pixels")
    return crop


def get_cropper(spec: str) -> Cropper:
    """A cropper for 'name' or 'name:ARG' (multiscale:margin, saliency:spectral, onnx-detector:PATH), kept open."""
    if spec not in _CACHE:
        if len(_CACHE) >= 64:  # specs come from requests too: keep the cache bounded
            _CACHE.clear()
        name, _, arg = spec.partition(":")
        if name == "onnx-detector" and arg:
            from .onnx_detector import sidecar_options

            _CACHE[spec] = create_cropper(name, path=arg, **sidecar_options(arg))
        elif arg:
            _CACHE[spec] = create_cropper(name, **{SPEC_ARGS.get(name, "path"): arg})
        else:
            _CACHE[spec] = create_cropper(name)
    return _CACHE[spec]


def find_regions(searcher, img, crop="none", regions: int = 1, filters: dict | None = None) -> list[Region]:
    """The box(es) a search would use for this photo, best first (vectors filled in when a cropper made them).

    crop is 'none', 'auto', a cropper name, 'onnx-detector:PATH', a box 'x0,y0,x1,y1' or (x0, y0, x1, y1), or a
    Cropper instance.
    """
    if not 1 <= regions <= MAX_REGIONS:
        raise BadInput(f"regions must be between 1 and {MAX_REGIONS}, got {regions}")
    if isinstance(crop, Cropper):
        return crop.propose(img, regions, searcher, filters)
    spec = parse_crop(crop)
    if isinstance(spec, tuple):
        images.crop(img, spec)  # raises a clear BadInput for an empty box or one outside the image
        return [Region(spec, 1.0)]
    return get_cropper(spec).propose(img, regions, searcher, filters)


def search_with_crop(searcher, img, k: int = 10, filters: dict | None = None, crop="none",
                     regions: int = 1) -> list[dict]:
    """[{"box": (x0, y0, x1, y1), "score": cropper confidence, "results": [Hit, ...]}] for each region, best first."""
    found = find_regions(searcher, img, crop, regions, filters)
    todo = [r for r in found if r.vec is None]
    if todo:  # crops without a vector yet are embedded together, in one batch
        vecs = searcher.embedder.embed([img.crop(r.box) for r in todo], batch_size=max(32, len(todo)))
        for r, v in zip(todo, vecs):
            r.vec = v
    return [{"box": tuple(int(v) for v in r.box), "score": float(r.score),
             "results": searcher.search_vectors(np.asarray(r.vec)[None], k, filters)} for r in found]


def regions_to_dict(found: list[dict]) -> list[dict]:
    """JSON form: every hit also carries the box it came from."""
    return [{"box": list(r["box"]), "score": round(r["score"], 6),
             "results": [{**h.to_dict(), "box": list(r["box"])} for h in r["results"]]} for r in found]
