"""Survey endpoints and page: blind side-by-side lists, one vote per person and item."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from .. import images
from .core import get_survey, record_vote, survey_results

router = APIRouter(tags=["survey"])
PAGE = Path(__file__).with_name("page.html")


class Vote(BaseModel):
    """One person's choice for one item."""

    item: int = Field(ge=0)
    choice: str = Field(description="left, right or tie")
    voter: str = Field(min_length=1, max_length=64)


def _ws(request: Request):
    return request.app.state.lookalike.ws


def _cards(ws, pids: list[str]) -> list[dict]:
    meta = ws.catalog.products(pids)
    first = ws.catalog.first_images(pids)
    return [{"id": p, "name": meta.get(p, {}).get("name", p),
             "thumb": f"/images/{first[p]}/thumb" if p in first else None} for p in pids]


@router.get("/survey/{survey_id}", include_in_schema=False)
def survey_page(survey_id: str, request: Request) -> FileResponse:
    """The voting page (it loads the items from the API)."""
    get_survey(_ws(request), survey_id)
    return FileResponse(PAGE)


@router.get("/api/surveys/{survey_id}")
def survey_items(survey_id: str, request: Request) -> dict:
    """Items with left/right lists; which model is which stays hidden (blind test)."""
    ws = _ws(request)
    spec = get_survey(ws, survey_id)
    items = []
    for i, it in enumerate(spec["items"]):
        left, right = (it["a"], it["b"]) if it["left"] == "a" else (it["b"], it["a"])
        items.append({"item": i, "query": f"/api/surveys/{survey_id}/query/{i}",
                      "left": _cards(ws, left), "right": _cards(ws, right)})
    return {"id": spec["id"], "k": spec["k"], "items": items}


@router.get("/api/surveys/{survey_id}/query/{item}")
def survey_query_image(survey_id: str, item: int, request: Request) -> Response:
    """The query picture of an item: a photo named when the survey was created, or the product's image."""
    ws = _ws(request)
    spec = get_survey(ws, survey_id)
    from ..errors import NotFound

    if not 0 <= item < len(spec["items"]):
        raise NotFound(f"survey {survey_id!r} has no item {item}")
    q = spec["items"][item]["query"]
    if q["type"] == "photo":  # a path from the stored survey spec, never from the request
        return Response(images.read_bytes(q["path"]), media_type="image/jpeg")
    row = ws.catalog.image(ws.catalog.product(q["id"])["image_ids"][0])
    return Response(images.read_bytes(row.local_path or row.source), media_type="image/jpeg")


@router.post("/api/surveys/{survey_id}/votes")
def vote(survey_id: str, body: Vote, request: Request) -> dict:
    """Record a vote; voting again on the same item replaces the earlier vote."""
    record_vote(_ws(request), survey_id, body.item, body.choice, body.voter)
    return {"ok": True}


@router.get("/api/surveys/{survey_id}/results")
def results(survey_id: str, request: Request) -> dict:
    """Vote counts, A's win rate with a 95% interval, and the sign test."""
    return survey_results(_ws(request), survey_id).to_dict()
