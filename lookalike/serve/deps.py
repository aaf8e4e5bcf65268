"""What the routes share: the served state, the API-key check, upload reading, and result rendering."""

from __future__ import annotations

import hmac

from fastapi import Header, Request, UploadFile

from ..errors import BadInput, TooLarge, Unauthorized
from ..search import Hit
from .errors import AdminDisabled, UnsupportedMediaType
from .state import ServeState

#: upload content types taken as images; octet-stream is what curl sends for unknown extensions
IMAGE_TYPES = ("image/",)
GENERIC_TYPES = ("application/octet-stream", "")


def get_state(request: Request) -> ServeState:
    """The ServeState of the app handling this request."""
    return request.app.state.lookalike


def require_key(request: Request, x_api_key: str | None = Header(None, description="The admin API key")) -> None:
    """Admin gate: refuses when no key is configured, or when the header is missing or wrong."""
    expected = get_state(request).settings.api_key
    if not expected:
        raise AdminDisabled(
            "admin endpoints are disabled because no API key is configured. Set one with "
            "`export LOOKALIKE_API_KEY=<a long random string>` (or api_key in the [serve] table of "
            "lookalike.toml in the workspace) and restart `lookalike serve`"
        )
    if not x_api_key:
        raise Unauthorized("this endpoint needs the admin API key: send it in the X-API-Key header")
    if not hmac.compare_digest(x_api_key.encode(), expected.encode()):
        raise Unauthorized("wrong API key in the X-API-Key header")


def require_multipart(request: Request) -> None:
    """415 unless the request is a form upload."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise UnsupportedMediaType(
            f"content type {ctype or '(none)'!r} is not accepted here: send multipart/form-data, "
            "e.g. curl -F files=@photo.jpg"
        )


def read_uploads(files: list[UploadFile] | None, limit: int) -> list[tuple[str, bytes]]:
    """(name, bytes) of each uploaded file, after checking its declared type and size."""
    out = []
    for f in files or []:
        name = f.filename or "upload"
        ctype = (f.content_type or "").split(";")[0].strip().lower()
        if not ctype.startswith(IMAGE_TYPES) and ctype not in GENERIC_TYPES:
            raise UnsupportedMediaType(
                f"{name}: content type {ctype!r} is not an image. Upload JPEG, PNG or WebP (image/*)"
            )
        data = f.file.read(limit + 1)
        if len(data) > limit:
            raise TooLarge(f"{name}: larger than the {limit // (1024 * 1024)} MB upload limit. Resize it first")
        out.append((name, data))
    return out


def parse_crop(value: str | None) -> tuple[int, int, int, int] | None:
    """'x0,y0,x1,y1' in original image pixels -> a box (checked against the image later)."""
    if value is None or value.strip() == "":
        return None
    parts = value.split(",")
    try:
        box = tuple(round(float(p)) for p in parts)
    except ValueError:
        box = ()
    if len(box) != 4:
        raise BadInput(f"crop {value!r} is not x0,y0,x1,y1 in image pixels; for example crop=10,20,300,400")
    return box  # type: ignore[return-value]


def image_urls(image_id: int) -> dict:
    """The catalog URLs of one image."""
    return {"image_url": f"/images/{image_id}", "thumb_url": f"/images/{image_id}/thumb"}


def render_hit(hit: Hit) -> dict:
    """A search result with its image URLs."""
    return {**hit.to_dict(), **image_urls(hit.image_id)}


def render_product(pid: str, metadata: dict, image_ids: list[int]) -> dict:
    """A product with the URLs of its images."""
    first = image_ids[0] if image_ids else None
    return {"id": pid, "metadata": metadata, "image_ids": image_ids,
            "images": [{"id": i, **image_urls(i)} for i in image_ids],
            **(image_urls(first) if first is not None else {"image_url": None, "thumb_url": None})}
