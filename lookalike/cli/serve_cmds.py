"""The serve command: the REST API and the web app over one workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from .catalog_cmds import WorkspaceOpt, open_ws
from .progress import console


@app.command()
def serve(
    workspace: Optional[Path] = WorkspaceOpt,
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for every interface)"),
    port: int = typer.Option(8000, help="TCP port"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model searched by default [workspace default]"),
    config: Optional[Path] = typer.Option(None, help="TOML config file with a serve table (default: WORKSPACE/lookalike.toml)"),
    cors_origin: Optional[list[str]] = typer.Option(None, help="Allow this web origin (repeat), e.g. https://shop.example"),
    max_upload_mb: Optional[float] = typer.Option(None, help="Largest upload in MB [10]"),
    timeout: Optional[float] = typer.Option(None, help="Request time limit in seconds [30]"),
    log_level: str = typer.Option("info", help="uvicorn log level: debug, info, warning, error"),
) -> None:
    """Serve the REST API and the web app (shopper view at /, staff view at /staff, API docs at /docs)."""
    import uvicorn

    from ..serve.app import create_app
    from ..serve.settings import Settings

    ws = open_ws(workspace)
    settings = Settings.load(ws.root, config, model=model, cors_origins=cors_origin or None,
                             max_upload_mb=max_upload_mb, request_timeout_s=timeout)
    api = create_app(ws, settings)
    admin = "admin endpoints on (X-API-Key)" if settings.api_key else "admin endpoints off: set LOOKALIKE_API_KEY"
    console.print(f"[green]serving[/green] {ws.root} at http://{host}:{port}/  ({admin}; API docs at /docs)")
    uvicorn.run(api, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)
