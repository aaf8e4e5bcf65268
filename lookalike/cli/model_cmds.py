"""Model commands: list embedders (built-in and trained), pack a trained model, import it into another workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from . import app
from .catalog_cmds import WorkspaceOpt, open_ws
from .progress import console, out, print_json


def _builtin_rows() -> list[dict]:
    from ..embedders.registry import availability, get_spec, list_embedders

    rows = []
    for name in list_embedders():
        ok, why = availability(name)
        spec = get_spec(name)
        rows.append({"name": name, "kind": "built-in", "available": ok, "dim": spec.dim,
                     "input": spec.preprocess.size, "description": spec.description if ok else why})
    return rows


def _trained_rows(ws) -> list[dict]:
    rows = []
    for name, spec in ws.catalog.workspace_models().items():
        lin = spec.get("lineage", {})
        ok = (ws.model_dir / spec["onnx"]).exists()
        best = lin.get("metrics", {}).get("best")
        rows.append({"name": name, "kind": "trained", "available": ok, "dim": lin.get("hyper", {}).get("dim", ""),
                     "input": spec["preprocess"]["size"],
                     "description": f"{lin.get('learner', '?')} on {spec.get('base', '?')}, version {spec['version']}"
                                    + (f", val R@1 {best}" if best is not None else "")
                                    if ok else f"ONNX file missing: lookalike import-model SPEC -w {ws.root}"})
    return rows


@app.command()
def models(workspace: Optional[Path] = WorkspaceOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """List built-in embedders (and whether their weights are installed) and the workspace's trained models."""
    from ..workspace import default_path

    rows = _builtin_rows()
    path = workspace or default_path()
    if (Path(path) / "lookalike.db").exists():
        rows += _trained_rows(open_ws(path))
    if as_json:
        print_json(rows)
        return
    table = Table(title="embedders (hub models: timm:NAME, open_clip:ARCH/PRETRAINED need internet)")
    for c in ("name", "kind", "available", "dim", "input", "description / fix"):
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(r["name"], r["kind"], "yes" if r["available"] else "[red]no[/red]", str(r["dim"]),
                      str(r["input"]), r["description"])
    out.print(table)


@app.command("pack-model")
def pack_model(name: str = typer.Argument(..., help="A trained model of the workspace"),
               out_dir: Path = typer.Argument(..., help="Folder to write NAME.onnx and NAME.model.json into"),
               workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Write a trained model as ONNX + spec, to copy to another machine (e.g. trained on a GPU, served on CPUs)."""
    from ..train.transfer import pack_model as pack

    ws = open_ws(workspace)
    path = pack(ws, name, out_dir)
    console.print(f"packed {name} -> {path}. On the other machine: lookalike import-model {path} -w WORKSPACE")


@app.command("import-model")
def import_model(spec: Path = typer.Argument(..., help="NAME.model.json written by lookalike pack-model"),
                 name: Optional[str] = typer.Option(None, help="Register under another name"),
                 workspace: Optional[Path] = WorkspaceOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """Register a packed model in this workspace; its ONNX file is checked against the spec's version."""
    from ..train.transfer import import_model as do_import

    ws = open_ws(workspace)
    result = do_import(ws, spec, name)
    if as_json:
        print_json(result)
        return
    console.print(f"imported {result['name']} (version {result['version']}). "
                  f"Next: lookalike index --model {result['name']} -w {ws.root}")
