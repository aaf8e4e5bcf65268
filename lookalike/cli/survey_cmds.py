"""`lookalike survey create|list|results`: a blind A/B preference survey between two models."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from . import app
from .catalog_cmds import WorkspaceOpt, open_ws
from .progress import console, out, print_json

survey_app = typer.Typer(help="Human A/B preference survey between two models (voted in the web app).")
app.add_typer(survey_app, name="survey")


@survey_app.command("create")
def create(
    models: str = typer.Option(..., help="Two models: A,B"),
    workspace: Optional[Path] = WorkspaceOpt,
    queries: Optional[Path] = typer.Option(None, help="Folder of shoppers' photos [default: catalog products]"),
    n: int = typer.Option(20, "-n", help="How many queries"),
    k: int = typer.Option(6, "-k", help="Results per side"),
    seed: int = 0,
    name: Optional[str] = typer.Option(None, help="Survey id [random]"),
) -> None:
    """Run both models on the same queries and store a blind side-by-side survey."""
    from ..survey import create_survey
    from ..errors import BadInput

    pair = [m.strip() for m in models.split(",") if m.strip()]
    if len(pair) != 2:
        raise BadInput(f"--models needs exactly two names, like efficientnet_lite0,mobilenet_v2; got {models!r}")
    ws = open_ws(workspace)
    spec = create_survey(ws, pair[0], pair[1], str(queries) if queries else None, n, k, seed, name)
    same = sum(1 for it in spec["items"] if it["a"] == it["b"])
    console.print(f"survey [bold]{spec['id']}[/bold]: {len(spec['items'])} items ({same} identical lists). "
                  f"Vote at http://HOST:PORT/survey/{spec['id']} after: lookalike serve -w {ws.root}")


@survey_app.command("list")
def list_(workspace: Optional[Path] = WorkspaceOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """Surveys in the workspace with their vote counts."""
    from ..survey import list_surveys

    rows = list_surveys(open_ws(workspace))
    if as_json:
        print_json(rows)
        return
    table = Table(title="surveys")
    for c in ("id", "model_a", "model_b", "items", "votes"):
        table.add_column(c)
    for r in rows:
        table.add_row(*(str(r[c]) for c in ("id", "model_a", "model_b", "items", "votes")))
    out.print(table)


@survey_app.command("results")
def results(survey_id: str, workspace: Optional[Path] = WorkspaceOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """Votes for A and B, A's win rate with a 95% interval, and the sign test's p-value."""
    from ..survey import survey_results

    r = survey_results(open_ws(workspace), survey_id).to_dict()
    if as_json:
        print_json(r)
        return
    rate = "n/a" if r["a_win_rate"] is None else f"{r['a_win_rate']:.2f} (95% CI {r['a_win_rate_ci95'][0]:.2f}-{r['a_win_rate_ci95'][1]:.2f})"
    out.print(f"{r['model_a']} (A) {r['a']} - {r['b']} {r['model_b']} (B), {r['tie']} ties, {r['voters']} voters")
    out.print(f"A's win rate without ties: {rate}; sign test p = {r['sign_test_p']}")
