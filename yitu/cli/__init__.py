"""The ``yitu`` command line (typer). Each domain adds its own command group here."""

from __future__ import annotations

import typer

from yitu.cli.audit import app as audit_app
from yitu.cli.db import app as db_app
from yitu.cli.demo import app as demo_app
from yitu.cli.grid import app as grid_app
from yitu.cli.jurisdiction import app as jurisdiction_app
from yitu.cli.serve import serve
from yitu.cli.users import app as user_app

app = typer.Typer(
    name="yitu",
    help="yitu (一图): one map for county-level grassroots governance.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(grid_app, name="grid")
app.command("serve")(serve)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(jurisdiction_app, name="jurisdiction")
app.add_typer(demo_app, name="demo")


def main() -> None:
    app()
