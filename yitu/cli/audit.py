"""``yitu audit``: verify the HMAC chain; print its head as an anchor to keep elsewhere."""

from __future__ import annotations

import typer

from yitu.audit.chain import verify as verify_chain
from yitu.cli._common import platform

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@app.command()
def verify(
    anchor: str = typer.Option(
        "", help="SEQ:MAC printed earlier by `yitu audit head`; also catches a deleted tail"
    ),
) -> None:
    """Check every record's HMAC, sequence and link. Exit 1 naming the first bad record."""
    parsed = None
    if anchor:
        seq, _, mac = anchor.partition(":")
        if not seq.isdigit() or len(mac) != 64:
            raise typer.BadParameter("anchor must look like SEQ:MAC (from `yitu audit head`)")
        parsed = (int(seq), mac)
    p = platform()
    result = verify_chain(p.db, p.audit.key, parsed)
    if result.ok:
        typer.echo(f"audit chain OK: {result.checked} records verified")
        return
    where = f"seq {result.first_bad_seq}" + (
        f" (row id {result.first_bad_id})" if result.first_bad_id else ""
    )
    typer.echo(
        f"audit chain BROKEN at {where}: {result.problem}; "
        f"{result.checked} records before it are intact",
        err=True,
    )
    raise typer.Exit(1)


@app.command()
def head() -> None:
    """Print SEQ:MAC of the newest record. Keep it outside the database (等保 daily anchor)."""
    p = platform()
    current = p.audit.head()
    typer.echo(f"{current[0]}:{current[1]}" if current else "audit log is empty")
