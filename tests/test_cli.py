"""The CLI end to end on real images, its error messages, and that every command is documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lookalike.cli import app, load_commands

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def run(*args: str):
    from lookalike.errors import LookalikeError

    load_commands()
    res = runner.invoke(app, list(args), catch_exceptions=True)
    if isinstance(res.exception, LookalikeError):  # main() turns these into one line + exit 1
        return 1, res.exception.message
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.output


def test_every_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    commands = [c.name or c.callback.__name__ for c in load_commands().registered_commands]
    groups = [g.name for g in load_commands().registered_groups]
    missing = [c for c in commands + groups if not re.search(rf"lookalike {c}\b", readme)]
    assert not missing, f"commands missing from README.md: {missing}"


def test_ingest_index_search_similar_export(tmp_path, demo_catalog, demo_queries):
    ws = str(tmp_path / "ws")
    code, out = run("ingest", str(demo_catalog), "-w", ws, "--json")
    assert code == 0 and json.loads(out[out.index("{"):])["new"] == 162
    code, out = run("index", "-w", ws)
    assert code == 0 and "162 vectors" in out
    code, out = run("index", "-w", ws)
    assert "embedded 0 images" in out and "up to date" in out
    grid = tmp_path / "grid.png"
    q = str(demo_queries[0][0])
    code, out = run("search", q, q, "-w", ws, "-k", "4", "--filter", "group=Fruit", "--grid", str(grid), "--json")
    assert code == 0 and grid.exists()
    res = json.loads(out[out.index("{"):])["results"]
    assert len(res) == 4 and all(r["metadata"]["group"] == "Fruit" for r in res)
    code, out = run("similar", "Granny-Smith", "-w", ws, "-k", "3", "--json")
    assert code == 0 and "Granny-Smith" not in [r["id"] for r in json.loads(out[out.index("{"):])["results"]]
    code, out = run("export", str(tmp_path / "sim.csv"), "-w", ws, "-k", "2")
    assert code == 0 and len((tmp_path / "sim.csv").read_text().splitlines()) == 1 + 81 * 2
    code, out = run("info", "-w", ws, "--json")
    assert json.loads(out[out.index("{"):])["products"] == 81


def test_errors_are_one_line_that_names_the_fix(tmp_path):
    code, msg = run("search", "x.jpg", "-w", str(tmp_path / "nowhere"))
    assert code == 1 and "lookalike ingest" in msg
    code, msg = run("ingest", str(tmp_path / "missing.csv"), "-w", str(tmp_path / "ws"))
    assert code == 1 and "not found" in msg


def test_models_lists_the_builtins():
    code, out = run("models", "--json")
    names = {m["name"] for m in json.loads(out[out.index("["):])}
    assert code == 0 and {"efficientnet_lite0", "mobilenet_v2"} <= names
