"""create_app: one FastAPI process serves a workspace's REST API and its web app."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..errors import LookalikeError
from ..workspace import Workspace
from .errors import install_error_handlers
from .metrics import Metrics
from .middleware import GuardMiddleware
from .routes import admin, health, images, products, search
from ..survey.routes import router as survey_router
from .routes.images import ThumbCache
from .settings import Settings
from .state import ServeState

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
log = logging.getLogger("lookalike.serve")

DESCRIPTION = """Visual product search and similar products over one lookalike workspace.

Errors always have the shape `{"error": {"code": "...", "message": "..."}}`; the message says how to fix it.
Admin endpoints need the `X-API-Key` header (set the key with `LOOKALIKE_API_KEY`).
"""


def create_app(workspace: str | Path | Workspace, settings: Settings | None = None) -> FastAPI:
    """The app for a workspace: API routes, the web app at / and /staff, error handlers, limits and metrics."""
    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace, create=False)
    settings = settings or Settings.load(ws.root)
    state = ServeState(ws, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        _warm_up(state)
        yield

    app = FastAPI(title="lookalike", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.lookalike = state
    app.state.metrics = Metrics(state)
    app.state.thumbs = ThumbCache(ws.root / "thumbs")
    install_error_handlers(app)
    for module in (search, products, admin, images, health):
        app.include_router(module.router)
    app.include_router(survey_router)  # the A/B preference survey's page and votes
    _add_pages(app)
    app.add_middleware(GuardMiddleware, settings=settings, metrics=app.state.metrics)
    if settings.cors_origins:  # outermost, so that even a 413 or 504 carries the CORS headers
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["X-API-Key", "Content-Type"], max_age=600)
    return app


def _add_pages(app: FastAPI) -> None:
    """The web app: plain files, no CDN, so it works offline."""

    @app.get("/", include_in_schema=False)
    def shopper_page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html")

    @app.get("/staff", include_in_schema=False)
    def staff_page() -> FileResponse:
        return FileResponse(WEB_DIR / "staff.html")

    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")


def _warm_up(state: ServeState) -> None:
    """Load the default index and open its model before the first request, so that one is not slow."""
    try:
        _ = state.searcher().embedder  # opens the ONNX session
    except LookalikeError as e:
        log.warning("not ready to search yet: %s", e.message)
