"""Serving: a FastAPI app (REST API + web app) over one workspace. Imports FastAPI, never torch."""

from __future__ import annotations


def create_app(workspace, settings=None):
    """The FastAPI app for a workspace (see lookalike.serve.app.create_app)."""
    from .app import create_app as _create_app

    return _create_app(workspace, settings)
