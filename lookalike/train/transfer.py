"""Move a trained model between workspaces: pack it to an ONNX file plus its spec, import it elsewhere.

This is how a model fine-tuned on a GPU machine reaches the CPU machines that index and serve: the spec carries
the preprocessing and the lineage, and its version (a hash of lineage and ONNX bytes) proves the file is intact.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..errors import BadInput, NotFound
from ..workspace import Workspace
from .export import check_name, lineage_version

SPEC_SUFFIX = ".model.json"


def pack_model(ws: Workspace, name: str, out_dir: Path) -> Path:
    """Copy model NAME's ONNX file and write NAME.model.json beside it; returns the spec path."""
    models = ws.catalog.workspace_models()
    if name not in models:
        known = ", ".join(models) or "none yet (lookalike train ...)"
        raise NotFound(f"no trained model {name!r} in {ws.root}; trained models here: {known}")
    spec = models[name]
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ws.model_dir / spec["onnx"], out_dir / spec["onnx"])
    path = out_dir / f"{name}{SPEC_SUFFIX}"
    path.write_text(json.dumps({"name": name, **spec}, indent=1, default=str))
    return path


def read_spec(spec_path: Path) -> tuple[dict, Path]:
    """The spec and its ONNX file, both checked: readable, complete, and the bytes match the version."""
    from ..embedders.onnx_runtime import file_digest

    try:
        spec = json.loads(Path(spec_path).read_text())
    except FileNotFoundError:
        raise BadInput(f"{spec_path} does not exist; make it with: lookalike pack-model NAME DIR") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadInput(f"{spec_path} is not a model spec ({e}); make it with: lookalike pack-model NAME DIR") from None
    missing = [k for k in ("onnx", "preprocess", "lineage", "version") if k not in spec]
    if missing:
        raise BadInput(f"{spec_path} lacks {', '.join(missing)}; make it with: lookalike pack-model NAME DIR")
    onnx = Path(spec_path).parent / Path(spec["onnx"]).name
    if not onnx.exists():
        raise BadInput(f"{onnx} is missing: copy it next to {spec_path}")
    if lineage_version(spec["lineage"], file_digest(str(onnx))) != spec["version"]:
        raise BadInput(f"{onnx} does not match {spec_path} (a partial copy or another model's file); copy both "
                       "files again from the workspace that trained it")
    return spec, onnx


def import_model(ws: Workspace, spec_path: Path, name: str | None = None) -> dict:
    """Register a packed model in this workspace under its own name (or `name`); returns its spec."""
    from ..embedders.onnx_runtime import embedder_from_file

    spec, onnx = read_spec(spec_path)
    name = name or spec.pop("name", None) or onnx.stem
    spec.pop("name", None)
    check_name(name)
    embedder_from_file(name, onnx, spec["preprocess"], spec["version"])  # ONNX Runtime must load it
    dest = ws.model_dir / f"{name}.onnx"
    tmp = dest.with_suffix(".onnx.tmp")
    shutil.copyfile(onnx, tmp)
    tmp.replace(dest)
    spec = {**spec, "onnx": dest.name}
    ws.catalog.put_model(name, spec)
    return {"name": name, **spec}
