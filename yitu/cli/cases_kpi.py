"""``yitu cases kpi``, ``yitu cases open311-key …`` and ``yitu demo cases``: the KPI report,
Open311 API keys issued by the operations centre, and a year of demo cases. Trusted local tools
(UNRESTRICTED reads; no personal data printed)."""

from __future__ import annotations

import json
import time
from datetime import UTC
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.audit.chain import Entry
from yitu.cases import demo, kpi, open311
from yitu.cases.config import get_case_settings
from yitu.cases.kpi_api import period
from yitu.cases.open311_models import Open311Key
from yitu.cli._common import cli_actor, platform
from yitu.cli.cases import seed_catalog
from yitu.core.errors import YituError
from yitu.runtime import Platform

keys_app = typer.Typer(help="Open311 API keys (api_key for POST requests).", no_args_is_help=True)

SHOWN = (
    "reported", "accepted", "registered", "due", "handled_on_time", "closed", "reworks",
    "returns",
)


def kpi_command(
    from_: Annotated[str | None, typer.Option("--from", help="date or date-time")] = None,
    to: Annotated[str | None, typer.Option(help="date (inclusive) or date-time")] = None,
    by: Annotated[str, typer.Option(help="township | department | grid")] = "township",
    as_json: Annotated[bool, typer.Option("--json", help="the API's JSON")] = False,
) -> None:
    """Case KPIs from the event log (formulas: docs/cases.md "KPI formulas")."""
    p = platform()
    try:
        start, end = period(from_, to, p.clock.now(), get_case_settings().timezone)
        with p.db.engine.connect() as conn:
            report = kpi.compute(conn, start, end, by, UNRESTRICTED)
    except YituError as exc:
        raise typer.BadParameter(exc.detail) from exc
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
        return
    table = Table(title=f"案件 KPI {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} by {by}")
    for column in ("code", "name", *SHOWN, "按期处置率", "结案率", "满意率"):
        table.add_column(column, justify="left" if column in ("code", "name") else "right")

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value * 100:.1f}%"

    for row in [*report.rows, report.total]:
        r = row.rates
        table.add_row(
            row.code, row.name, *(str(row.counts[k]) for k in SHOWN),
            pct(r["on_time_handling_rate"]), pct(r["closure_rate"]), pct(r["satisfaction_rate"]),
        )
    Console(width=200).print(table)


@keys_app.command("issue")
def issue_key(
    client: str,
    batch: Annotated[bool, typer.Option(help="answer POSTs with a token (batch flow)")] = False,
) -> None:
    """Issue a key for a client application; it is printed once, only its hash is kept."""
    p = platform()
    actor = cli_actor()
    try:  # the key and its audit record commit together, or neither
        with p.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change:
            key = open311.issue_key(change.session, client, actor.username, p.clock.now(),
                                    batch=batch)
            change.record(Entry("create", actor, object_type="open311_key", detail=client))
    except YituError as exc:
        raise typer.BadParameter(exc.detail) from exc
    typer.echo(key)


@keys_app.command("revoke")
def revoke_key(client: str) -> None:
    p = platform()
    try:  # the revocation and its audit record commit together, or neither
        with p.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change:
            open311.revoke_key(change.session, client, p.clock.now())
            change.record(Entry("update", cli_actor(), object_type="open311_key",
                                detail=f"revoked {client}"))
    except YituError as exc:
        raise typer.BadParameter(exc.detail) from exc
    typer.echo(f"revoked {client}")


@keys_app.command("list")
def list_keys() -> None:
    p = platform()
    with p.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        for k in s.scalars(select(Open311Key).order_by(Open311Key.id)):
            state = "revoked" if k.revoked_at else "active"
            used = k.last_used_at.isoformat() if k.last_used_at else "never"
            typer.echo(f"{k.client}\t{k.mode}\t{state}\tlast used {used}")


def register(cases_app: typer.Typer) -> None:
    """Hang the commands on ``yitu cases``."""
    cases_app.command("kpi")(kpi_command)
    cases_app.add_typer(keys_app, name="open311-key")


# --- demo -----------------------------------------------------------------------------------


def generate_demo_cases(
    p: Platform, months: int, seed: int, per_month: int | None = None
) -> dict[str, int]:
    seed_catalog(p)  # idempotent: the categories and departments, audited if any is new
    started = time.perf_counter()
    record = Entry("config_change", cli_actor(), object_type="demo",
                   detail=f"demo cases: {months} months, seed {seed}")
    # The cases and their audit record commit in generate's one transaction, or neither.
    counts = demo.generate(p.db, months=months, seed=seed, now=p.clock.now().astimezone(UTC),
                           per_month=per_month, audit=lambda c: p.audit.append_in(c, [record]))
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return counts


def demo_cases_command(
    months: Annotated[int, typer.Option(help="months of cases up to now")] = 12,
    seed: Annotated[int, typer.Option(help="same seed, same cases")] = 1,
    per_month: Annotated[int | None, typer.Option(
        help="cases a month (default: 1,000 at 老河口 scale, in proportion to residents)")] = None,
) -> None:
    """Add a year of realistic cases (seasons, places, full workflows) to the demo county."""
    try:
        counts = generate_demo_cases(platform(), months, seed, per_month)
    except YituError as exc:
        raise typer.BadParameter(exc.detail) from exc
    typer.echo("demo cases loaded: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def demo_cases_if_empty(p: Platform) -> bool:
    """`demo init`'s hook: a year of cases once, if the county is loaded and has none."""
    from yitu.demo.load import county_loaded

    with p.db.engine.connect() as conn:
        if not county_loaded(conn) or demo.cases_loaded(conn):
            return False
    generate_demo_cases(p, 12, 1)
    return True


