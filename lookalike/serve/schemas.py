"""Response models: they document the API in its OpenAPI schema (/docs) and keep answers to one shape."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class HitOut(BaseModel):
    """One product in a result list."""

    rank: int
    id: str
    score: float
    image_id: int
    metadata: dict[str, Any]
    image_url: str
    thumb_url: str
    box: list[int] | None = None


class RegionOut(BaseModel):
    """A box found in the query photo and the products that look like it."""

    box: list[int]
    score: float
    results: list[HitOut]


class SearchOut(BaseModel):
    """Products that look like the query."""

    model: str
    k: int
    took_ms: float
    query: dict[str, Any]
    results: list[HitOut]
    regions: list[RegionOut] | None = None


class ImageRef(BaseModel):
    """A catalog image by id."""

    id: int
    image_url: str
    thumb_url: str


class ProductOut(BaseModel):
    """A catalog product with its images."""

    id: str
    metadata: dict[str, Any]
    image_ids: list[int]
    images: list[ImageRef]
    image_url: str | None
    thumb_url: str | None


class ProductPage(BaseModel):
    """One page of the product list."""

    items: list[ProductOut]
    page: int
    page_size: int
    total: int
    pages: int


class WriteOut(BaseModel):
    """What an admin write did: the product, and the size of each index now served."""

    id: str
    image_ids: list[int] = []
    indexed: dict[str, int]


class HealthOut(BaseModel):
    """Whether the server can answer searches, and what it serves."""

    status: str
    ready: bool
    default_model: str
    models: list[str]
    index_vectors: dict[str, int]
    products: int
    generation: int
    reindex: dict[str, Any]
