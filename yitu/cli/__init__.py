"""The ``yitu`` command line (typer). Each domain adds its own command group here."""

from __future__ import annotations

import typer

from yitu.cli.grid import app as grid_app

app = typer.Typer(
    name="yitu",
    help="yitu (一图): one map for county-level grassroots governance.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(grid_app, name="grid")


def main() -> None:
    app()
