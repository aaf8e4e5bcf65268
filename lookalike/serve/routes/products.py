"""Read-only product routes: list with filters, one product, its similar products, and filter facets."""

from __future__ import annotations

import math
import time
from collections import Counter

from fastapi import APIRouter, Path, Query, Request

from ...search import matches, parse_filters
from ..deps import get_state, render_hit, render_product
from ..errors import ERROR_RESPONSES
from ..schemas import ProductOut, ProductPage, SearchOut

router = APIRouter(tags=["products"])
#: facets list metadata keys with at most this many distinct values (category, brand...; not ids or names)
FACET_MAX_VALUES = 60


@router.get("/products", response_model=ProductPage, responses=ERROR_RESPONSES)
def list_products(
    request: Request,
    filter: list[str] | None = Query(None, description="key=value metadata filter; repeat to AND, a,b means OR"),
    page: int = Query(1, ge=1, le=1_000_000),
    page_size: int = Query(24, ge=1, le=200),
) -> dict:
    """Catalog products, optionally filtered by metadata, one page at a time."""
    cat = get_state(request).ws.catalog
    filters = parse_filters(filter)
    metadata = cat.products()
    ordered = sorted(pid for pid, meta in metadata.items() if matches(meta, filters))
    chunk = ordered[(page - 1) * page_size : page * page_size]
    images = _image_ids(cat, chunk)
    items = [render_product(pid, metadata[pid], images.get(pid, [])) for pid in chunk]
    return {"items": items, "page": page, "page_size": page_size, "total": len(ordered),
            "pages": max(1, math.ceil(len(ordered) / page_size))}


@router.get("/facets", responses=ERROR_RESPONSES)
def facets(request: Request) -> dict[str, dict[str, int]]:
    """Metadata keys worth filtering on, with each value's product count (for filter menus)."""
    counts: dict[str, Counter] = {}
    for meta in get_state(request).ws.catalog.products().values():
        for key, value in meta.items():
            if isinstance(value, (str, int, float, bool)) and str(value) != "":
                counts.setdefault(key, Counter())[str(value)] += 1
    return {key: dict(sorted(c.items())) for key, c in sorted(counts.items())
            if 1 < len(c) <= FACET_MAX_VALUES}


@router.get("/products/{product_id:path}/similar", response_model=SearchOut, responses=ERROR_RESPONSES)
def similar(
    request: Request,
    product_id: str = Path(..., description="The product id (may contain slashes)"),
    k: int = Query(10, ge=1, le=100),
    filter: list[str] | None = Query(None, description="key=value metadata filter"),
    model: str | None = Query(None, description="The model to search with [server default]"),
) -> dict:
    """Products that look like this one (itself excluded)."""
    t0 = time.perf_counter()
    searcher = get_state(request).searcher(model)
    hits = searcher.similar(product_id, k, parse_filters(filter))
    return {"model": searcher.model, "k": k, "query": {"product_id": product_id},
            "results": [render_hit(h) for h in hits], "took_ms": round((time.perf_counter() - t0) * 1000, 2)}


@router.get("/products/{product_id:path}", response_model=ProductOut, responses=ERROR_RESPONSES)
def get_product(request: Request, product_id: str = Path(..., description="The product id")) -> dict:
    """One product: metadata and image URLs."""
    p = get_state(request).ws.catalog.product(product_id)
    return render_product(p["id"], p["metadata"], p["image_ids"])


def _image_ids(cat, ids: list[str]) -> dict[str, list[int]]:
    """The good image ids of a page of products, in one query."""
    if not ids:
        return {}
    rows = cat.conn().execute(
        f"SELECT product_id, id FROM images WHERE status='ok' AND product_id IN ({','.join('?' * len(ids))}) "
        "ORDER BY id", ids)
    out: dict[str, list[int]] = {}
    for pid, image_id in rows:
        out.setdefault(pid, []).append(int(image_id))
    return out
