"""``yitu jurisdiction``: the tree county > town > village > grid."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from yitu.access.jurisdiction import add_node, get_node, load_divisions
from yitu.access.models import Level
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.audit.chain import Entry
from yitu.cli._common import cli_actor, platform
from yitu.core.errors import YituError

app = typer.Typer(help="Jurisdiction tree (辖区).", no_args_is_help=True)


@app.command("load-divisions")
def load(
    csv: Annotated[
        Path | None, typer.Option(help="code,name,level,parent_code; default: bundled 老河口市")
    ] = None,
) -> None:
    """Load statistical divisions (county, towns, villages). Codes already present are kept."""
    p = platform()
    try:
        with p.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change:  # nodes + record, or neither
            added = load_divisions(change.session, csv)
            change.record(
                Entry(
                    "config_change",
                    cli_actor(),
                    object_type="jurisdiction",
                    detail=f"loaded divisions: {added} new nodes",
                )
            )
    except YituError as exc:
        raise typer.BadParameter(exc.detail) from exc
    typer.echo(f"{added} jurisdiction nodes added")


@app.command("add-grid")
def add_grid(village: str, serial: int, name: str) -> None:
    """Add grid SERIAL (1-999) under VILLAGE; its code is the village code + 3 digits."""
    if not 1 <= serial <= 999:
        raise typer.BadParameter("serial must be 1-999")
    p = platform()
    try:
        with p.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change:
            parent = get_node(change.session, village)
            node = add_node(change.session, f"{parent.code}{serial:03d}", name, Level.GRID, parent)
            code = node.code
            change.record(
                Entry(
                    "config_change",
                    cli_actor(),
                    object_type="jurisdiction",
                    detail=f"added grid {code}",
                )
            )
    except YituError as exc:
        raise typer.BadParameter(exc.detail) from exc
    typer.echo(f"grid {code} added")
