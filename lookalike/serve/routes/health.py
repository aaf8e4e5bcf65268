"""GET /health (can the server search?) and GET /metrics (Prometheus text format)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ...errors import LookalikeError
from ..deps import get_state
from ..schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut)
def health(request: Request) -> dict:
    """Ready when the default model's index is loaded; also what the server serves."""
    state = get_state(request)
    try:
        state.searcher()
        ready, status = True, "ok"
    except LookalikeError as e:
        ready, status = False, f"not ready: {e.message}"
    return {"status": status, "ready": ready, "default_model": state.default_model,
            "models": state.served_models(),
            "index_vectors": {m: len(s.index) for m, s in state.loaded().items()},
            "products": state.ws.catalog.count("products"), "generation": state.generation,
            "reindex": dict(state.reindex)}


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
def metrics(request: Request) -> Response:
    """Request counts, latency histograms, catalog and index sizes."""
    body, content_type = request.app.state.metrics.render()
    return Response(body, media_type=content_type)
