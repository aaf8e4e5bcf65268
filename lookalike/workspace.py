"""Workspace: one directory holding the SQLite catalog, stored images and index files."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import WorkspaceError
from .store import SqliteCatalog

DB_NAME = "lookalike.db"
DEFAULT_MODEL = "efficientnet_lite0"


def default_path() -> Path:
    """$LOOKALIKE_WORKSPACE, or ./lookalike-ws."""
    return Path(os.environ.get("LOOKALIKE_WORKSPACE", "lookalike-ws"))


class Workspace:
    """Paths and the catalog of one workspace directory."""

    def __init__(self, root: str | Path, create: bool = True):
        self.root = Path(root)
        if not (self.root / DB_NAME).exists():
            if not create:
                raise WorkspaceError(
                    f"no workspace at {self.root}. Create one with: lookalike ingest CATALOG --workspace {self.root}"
                )
            if self.root.exists() and not self.root.is_dir():
                raise WorkspaceError(f"{self.root} is a file, not a workspace directory")
            self.root.mkdir(parents=True, exist_ok=True)
        self.catalog = SqliteCatalog(self.root / DB_NAME)
        for sub in ("indexes", "blobs", "models"):
            (self.root / sub).mkdir(exist_ok=True)

    @property
    def index_dir(self) -> Path:
        """Where index files live."""
        return self.root / "indexes"

    @property
    def blob_dir(self) -> Path:
        """Where downloaded and uploaded images are kept, by content hash."""
        return self.root / "blobs"

    @property
    def model_dir(self) -> Path:
        """Where trained models are kept."""
        return self.root / "models"

    @property
    def default_model(self) -> str:
        """The model used when a command names none."""
        return self.catalog.get_meta("default_model", DEFAULT_MODEL) or DEFAULT_MODEL

    def store_blob(self, data: bytes, sha256: str, suffix: str = ".img") -> Path:
        """Write bytes under blobs/ by content hash (idempotent, atomic)."""
        path = self.blob_dir / sha256[:2] / f"{sha256}{suffix}"
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return path

    def embedder(self, name: str | None = None, export: bool = True):
        """An embedder by name: a trained model of this workspace, or a registered or hub model.

        export=False refuses (ModelUnavailable) instead of exporting a registry model that has no ONNX file yet.
        """
        from .embedders import create_embedder
        from .embedders.onnx_runtime import embedder_from_file

        name = name or self.default_model
        trained = self.catalog.workspace_models()
        if name in trained:
            spec = trained[name]
            return embedder_from_file(name, self.model_dir / spec["onnx"], spec["preprocess"], spec["version"])
        return create_embedder(name, export=export)
