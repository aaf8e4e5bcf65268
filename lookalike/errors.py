"""Exceptions that carry an HTTP status and a message that names the fix."""

from __future__ import annotations


class LookalikeError(Exception):
    """Base class: every error lookalike raises on purpose derives from this."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict:
        """The one JSON shape every API error uses."""
        return {"error": {"code": self.code, "message": self.message}}


class BadInput(LookalikeError):
    """The user gave a value we cannot use."""

    status = 400
    code = "bad_input"


class BadImage(BadInput):
    """An image that cannot be decoded, is empty, or is too large."""

    status = 422
    code = "bad_image"


class NotFound(LookalikeError):
    """A product, image, model or file that does not exist."""

    status = 404
    code = "not_found"


class ModelUnavailable(LookalikeError):
    """A model that is known but cannot be loaded on this machine."""

    status = 503
    code = "model_unavailable"


class WorkspaceError(LookalikeError):
    """A workspace that is missing, locked, or written by another version."""

    status = 409
    code = "workspace"


class Unauthorized(LookalikeError):
    """A write without a valid API key."""

    status = 401
    code = "unauthorized"


class TooLarge(BadInput):
    """An upload past the configured size limit."""

    status = 413
    code = "too_large"
