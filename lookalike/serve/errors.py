"""One JSON error shape for every failure: {"error": {"code", "message"}}, rendered by one set of handlers."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import LookalikeError

log = logging.getLogger("lookalike.serve")


class UnsupportedMediaType(LookalikeError):
    """A request or upload whose content type the endpoint does not take."""

    status = 415
    code = "unsupported_media_type"


class AdminDisabled(LookalikeError):
    """An admin request to a server started without an API key."""

    status = 403
    code = "admin_disabled"


class RequestTimeout(LookalikeError):
    """A request that ran past the configured time limit."""

    status = 504
    code = "timeout"


class ErrorDetail(BaseModel):
    """What went wrong and how to fix it."""

    code: str
    message: str


class ErrorBody(BaseModel):
    """The shape of every error response."""

    error: ErrorDetail


#: OpenAPI `responses=` for the errors a route can return
ERROR_RESPONSES = {s: {"model": ErrorBody} for s in (400, 404, 413, 415, 422)}
ADMIN_RESPONSES = {s: {"model": ErrorBody} for s in (401, 403, 409)}


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    """A JSON error in the shared shape."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header"))
        parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) + ". See the API schema at /docs"


def install_error_handlers(app: FastAPI) -> None:
    """Route library errors, validation errors, HTTP errors and crashes into the one shape."""

    @app.exception_handler(LookalikeError)
    async def lookalike_error(request: Request, exc: LookalikeError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}. See the API schema at /docs"
        return error_response(exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal server error; the server log has the details")
