"""`python -m lookalike` runs the CLI."""

from .cli import main

main()
