"""Admin routes behind the X-API-Key header: add and delete products, reindex, catalog stats and problems."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile

from ...errors import BadInput
from ...index.build import read_info
from ..deps import get_state, read_uploads, require_key, require_multipart
from ..errors import ADMIN_RESPONSES, ERROR_RESPONSES
from ..schemas import WriteOut

router = APIRouter(tags=["admin"], dependencies=[Depends(require_key)],
                   responses={**ERROR_RESPONSES, **ADMIN_RESPONSES})


@router.post("/products", response_model=WriteOut, status_code=201, dependencies=[Depends(require_multipart)])
def add_product(
    request: Request,
    id: str = Form(..., min_length=1, max_length=300, description="The product id (new or existing)"),
    metadata: str = Form("{}", description='Metadata as a JSON object, e.g. {"name": "Oat milk", "category": "Milk"}'),
    files: list[UploadFile] | None = File(None, description="Product photos"),
    urls: list[str] | None = Form(None, description="http(s) URLs of product photos"),
) -> dict:
    """Add or update a product; it is embedded and searchable when this returns."""
    state = get_state(request)
    meta = _metadata(metadata)
    uploads = read_uploads(files, state.settings.max_upload_bytes)
    for url in urls or []:
        if not url.lower().startswith(("http://", "https://")):
            raise BadInput(f"url {url[:80]!r} must start with http:// or https://")
    if not id.strip() or id != id.strip():
        raise BadInput(f"product id {id!r} is blank or has spaces around it")
    exists = _exists(state, id)
    if not uploads and not urls and not exists:
        raise BadInput(f"new product {id!r} needs at least one photo: -F files=@photo.jpg or -F urls=https://...")
    return state.add_product(id, meta, uploads, urls or [])


@router.delete("/products/{product_id:path}", response_model=WriteOut)
def delete_product(request: Request, product_id: str = Path(..., description="The product id")) -> dict:
    """Delete a product with its images and vectors; searches stop returning it at once."""
    out = get_state(request).delete_product(product_id)
    return {"id": out["deleted"], "indexed": out["indexed"]}


@router.post("/reindex", status_code=202)
def reindex(request: Request) -> dict:
    """Re-embed what changed and rebuild every served index in the background; search keeps serving."""
    return get_state(request).start_reindex()


@router.get("/reindex")
def reindex_status(request: Request) -> dict:
    """The state of the latest reindex: idle, running, done or error."""
    return dict(get_state(request).reindex)


@router.get("/admin/stats")
def stats(request: Request) -> dict:
    """Catalog counts, vectors per model, index manifests and the latest runs."""
    state = get_state(request)
    cat = state.ws.catalog
    c = cat.conn()
    images = {r[0]: r[1] for r in c.execute("SELECT status, COUNT(*) FROM images GROUP BY status")}
    vectors = {r[0]: r[1] for r in c.execute("SELECT model, COUNT(*) FROM embeddings GROUP BY model")}
    indexes = {}
    for model in state.served_models():
        info = read_info(state.ws.index_dir, model)
        if info is not None:
            indexes[model] = info.__dict__
    return {"products": cat.count("products"), "images": images, "vectors": vectors, "indexes": indexes,
            "default_model": state.default_model, "runs": cat.runs(10)}


@router.get("/admin/problems")
def problems(request: Request, limit: int = Query(200, ge=1, le=5000)) -> dict:
    """Ingestion errors: the latest run's skipped items, and every image marked bad."""
    cat = get_state(request).ws.catalog
    rows = cat.conn().execute(
        "SELECT id, product_id, source, error FROM images WHERE status='error' ORDER BY id LIMIT ?", (limit,))
    return {"problems": cat.problems()[:limit], "bad_images": [dict(r) for r in rows]}


def _metadata(text: str) -> dict:
    try:
        meta = json.loads(text or "{}")
    except json.JSONDecodeError as e:
        raise BadInput(f'metadata is not valid JSON ({e.msg}); send an object like {{"name": "Oat milk"}}') from None
    if not isinstance(meta, dict):
        raise BadInput(f'metadata must be a JSON object like {{"name": "Oat milk"}}, got {type(meta).__name__}')
    return meta


def _exists(state, pid: str) -> bool:
    return state.ws.catalog.products([pid]) != {}
