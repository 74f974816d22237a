"""The ``yitu`` command line (typer). Each domain adds its own command group in ``build_app``.

The groups are imported when the app is built, not when this module is: ``yitu grid …`` (the
grid library alone) then starts without loading the web, database and audit stack.
"""

from __future__ import annotations

import sys
from functools import cache
from typing import Any

import typer


@cache
def build_app() -> typer.Typer:
    from yitu.cli.audit import app as audit_app
    from yitu.cli.cases import app as cases_app
    from yitu.cli.cases_kpi import register as register_case_tools
    from yitu.cli.db import app as db_app
    from yitu.cli.demo import app as demo_app
    from yitu.cli.grid import app as grid_app
    from yitu.cli.intake import app as intake_app
    from yitu.cli.jurisdiction import app as jurisdiction_app
    from yitu.cli.registry import app as registry_app
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
    app.add_typer(registry_app, name="registry")
    app.add_typer(intake_app, name="import")
    register_case_tools(cases_app)  # kpi, open311-key
    app.add_typer(cases_app, name="cases")
    return app


def __getattr__(name: str) -> Any:
    if name == "app":  # `from yitu.cli import app` (tests, embedding) gets the full app
        return build_app()
    raise AttributeError(name)


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["grid"]:
        from yitu.cli.grid import app as grid_app

        grid_app(args=args[1:], prog_name="yitu grid")
    else:
        build_app()()
