"""``yitu grid`` commands (placeholder until the grid CLI lands)."""

import typer

app = typer.Typer(help="BeiDou grid location codes (GB/T 39409-2020).", no_args_is_help=True)
