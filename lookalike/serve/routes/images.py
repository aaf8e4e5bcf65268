"""Catalog images by id, and their thumbnails. The file path always comes from the catalog, never the request."""

from __future__ import annotations

import io
import os
import threading
from collections import OrderedDict
from pathlib import Path as FsPath

from fastapi import APIRouter, Path, Request, Response
from PIL import Image

from ... import images
from ...errors import BadImage, NotFound
from ...store import ImageRow
from ..deps import get_state
from ..errors import ERROR_RESPONSES

router = APIRouter(tags=["images"])
IMAGE_RESPONSES = {200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}, **ERROR_RESPONSES}
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif", "BMP": "image/bmp"}
IMAGE_ID = Path(..., ge=0, le=2**62, description="A catalog image id (from search results or a product)")


def _row(request: Request, image_id: int) -> ImageRow:
    row = get_state(request).ws.catalog.image(image_id)
    if row.status != "ok":
        raise NotFound(f"image {image_id} could not be read at ingest ({row.error}); re-ingest it to serve it")
    return row


def _read(row: ImageRow) -> bytes:
    try:
        return images.read_bytes(row.local_path or row.source)
    except BadImage as e:
        raise NotFound(f"image {row.id}'s file is gone ({e.message}). Re-ingest the catalog") from None


def _answer(request: Request, data: bytes, media_type: str, etag: str) -> Response:
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media_type, headers=headers)


@router.get("/images/{image_id}", response_class=Response, responses=IMAGE_RESPONSES)
def image(request: Request, image_id: int = IMAGE_ID) -> Response:
    """The original catalog image."""
    row = _row(request, image_id)
    data = _read(row)
    try:
        fmt = Image.open(io.BytesIO(data)).format or ""
    except (OSError, ValueError):  # checked at ingest; a file replaced since then is served as bytes
        fmt = ""
    return _answer(request, data, MEDIA_TYPES.get(fmt, "application/octet-stream"), f'"{row.sha256}"')


@router.get("/images/{image_id}/thumb", response_class=Response, responses=IMAGE_RESPONSES)
def thumb(request: Request, image_id: int = IMAGE_ID) -> Response:
    """A JPEG thumbnail (longest side `thumb_size`), made once and cached."""
    state = get_state(request)
    row = _row(request, image_id)
    size = state.settings.thumb_size
    cache: ThumbCache = request.app.state.thumbs
    data = cache.get(row, size)
    return _answer(request, data, "image/jpeg", f'"{row.sha256}-{size}"')


class ThumbCache:
    """Thumbnails keyed by content hash: in memory (LRU) and on disk under the workspace when it is writable."""

    def __init__(self, root: FsPath, max_items: int = 2048):
        self.root = root
        self.max_items = max_items
        self._mem: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, row: ImageRow, size: int) -> bytes:
        """The thumbnail bytes of one catalog image."""
        key = f"{row.sha256}-{size}"
        with self._lock:
            if key in self._mem:
                self._mem.move_to_end(key)
                return self._mem[key]
        path = self.root / key[:2] / f"{key}.jpg"
        data = path.read_bytes() if path.is_file() else self._make(row, size, path)
        with self._lock:
            self._mem[key] = data
            while len(self._mem) > self.max_items:
                self._mem.popitem(last=False)
        return data

    def _make(self, row: ImageRow, size: int, path: FsPath) -> bytes:
        img = images.decode(_read(row), name=f"image {row.id}")
        img.thumbnail((size, size), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=85, optimize=True)
        data = buf.getvalue()
        try:  # a read-only workspace still serves thumbnails, from memory
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError:
            pass
        return data
