"""Server settings: from explicit values, then the environment, then a TOML config file, then defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..errors import BadInput

#: the config file looked for in the workspace when none is named
CONFIG_NAME = "lookalike.toml"

#: environment variable -> (setting, parser)
_ENV = {
    "LOOKALIKE_API_KEY": "api_key",
    "LOOKALIKE_MAX_UPLOAD_MB": "max_upload_mb",
    "LOOKALIKE_REQUEST_TIMEOUT": "request_timeout_s",
    "LOOKALIKE_CORS_ORIGINS": "cors_origins",
    "LOOKALIKE_MODEL": "model",
    "LOOKALIKE_ALLOW_URLS": "allow_urls",
}


@dataclass
class Settings:
    """What `lookalike serve` can be told; every field has a safe default."""

    #: the key admin requests send in the X-API-Key header; None disables admin endpoints
    api_key: str | None = None
    #: the largest request body accepted (uploads), in megabytes
    max_upload_mb: float = 10.0
    #: a request still running after this many seconds gets a 504
    request_timeout_s: float = 30.0
    #: origins allowed by CORS (e.g. https://shop.example); empty means same-origin only
    cors_origins: list[str] = field(default_factory=list)
    #: the model searched when a request names none (default: the workspace default)
    model: str | None = None
    #: whether POST /search may fetch a query image from a URL given by the client
    allow_urls: bool = True
    #: longest side of /images/{id}/thumb, in pixels
    thumb_size: int = 320
    #: most query photos in one search request
    max_files: int = 8
    #: images above this many pixels are refused as possible decompression bombs
    max_pixels: int = 40_000_000

    @property
    def max_upload_bytes(self) -> int:
        """The body limit in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)

    @classmethod
    def load(cls, workspace: str | Path | None = None, config: str | Path | None = None, **overrides) -> Settings:
        """Settings from overrides (not None), then LOOKALIKE_* environment variables, then the config file."""
        values: dict = {}
        path = _config_path(workspace, config)
        if path is not None:
            values.update(_read_config(path))
        for env, name in _ENV.items():
            if os.environ.get(env):
                values[name] = os.environ[env]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: dict) -> Settings:
        """Typed settings from strings or values; unknown keys are an error that lists the known ones."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise BadInput(f"unknown setting(s) {', '.join(unknown)}; known settings: {', '.join(known)}")
        out = {name: _coerce(name, known[name].type, value) for name, value in values.items()}
        s = cls(**out)
        if s.max_upload_mb <= 0 or s.request_timeout_s <= 0:
            raise BadInput("max_upload_mb and request_timeout_s must be positive numbers")
        return s


def _config_path(workspace, config) -> Path | None:
    if config is not None:
        p = Path(config)
        if not p.is_file():
            raise BadInput(f"config file {p} not found. Write a TOML file with a [serve] table, or drop --config")
        return p
    if os.environ.get("LOOKALIKE_CONFIG"):
        return _config_path(None, os.environ["LOOKALIKE_CONFIG"])
    if workspace is not None and (Path(workspace) / CONFIG_NAME).is_file():
        return Path(workspace) / CONFIG_NAME
    return None


def _read_config(path: Path) -> dict:
    """The [serve] table of a TOML file (or its top level when it has no such table)."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise BadInput(f"config file {path} is not valid TOML ({e})") from None
    return dict(data.get("serve", data))


def _coerce(name: str, typ: str, value):
    """Parse environment strings into the field's type."""
    if not isinstance(value, str) or typ == "str | None":
        return value
    try:
        if typ == "bool":
            if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("1", "true", "yes")
        if typ == "int":
            return int(value)
        if typ == "float":
            return float(value)
        if typ == "list[str]":
            return [v.strip() for v in value.split(",") if v.strip()]
    except ValueError:
        raise BadInput(f"setting {name}={value!r} is not a valid {typ}") from None
    return value
