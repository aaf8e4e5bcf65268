"""The lookalike command line: parses input, calls the library, renders the result."""

from __future__ import annotations

import sys

import typer

from ..errors import LookalikeError
from .progress import console

app = typer.Typer(help="lookalike: visual product search and similar products.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)


#: modules whose import registers their commands on `app`
COMMAND_MODULES = ["catalog_cmds", "search_cmds", "serve_cmds", "eval_cmds", "survey_cmds", "train_cmds", "model_cmds"]


def load_commands() -> typer.Typer:
    """Import every command module, so that `app` knows all commands."""
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    return app


def main() -> None:
    """Console-script entry point: library errors become one red line and exit status 1."""
    load_commands()
    try:
        app()
    except LookalikeError as e:
        console.print(f"[red]error:[/red] {e.message}")
        sys.exit(1)
