"""``yitu demo``: what `make run` sets up on a fresh machine."""

from __future__ import annotations

from typing import NamedTuple

import typer
from sqlalchemy import select

from yitu.access import users
from yitu.access.jurisdiction import load_divisions
from yitu.access.models import User
from yitu.access.passwords import generate_password
from yitu.access.roles import Role
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.audit.chain import Entry
from yitu.cli._common import cli_actor, platform
from yitu.cli.cases_kpi import demo_cases_command, demo_cases_if_empty
from yitu.cli.intake_sources import sources
from yitu.core.errors import YituError
from yitu.core.migrate import upgrade
from yitu.core.settings import Settings
from yitu.demo.cli import generate_command, load_small_if_empty
from yitu.runtime import Platform

app = typer.Typer(help="Demo set-up for `make run`.", no_args_is_help=True)
app.command("cases")(demo_cases_command)
app.command("sources")(sources)  # noisy department files with truth (yitu.intake.synth)


class DemoAccount(NamedTuple):
    username: str
    role: Role
    scope_codes: tuple[str, ...]
    display_name: str
    what: str


DEMO_ADMIN = "admin"
DEMO_ACCOUNTS = (
    DemoAccount(DEMO_ADMIN, Role.SYS_ADMIN, (), "Demo system admin", "demo system admin"),
    # County-wide 坐席: the map, cases and (masked) people of the whole demo county.
    DemoAccount("operator", Role.OPERATOR, ("420682000000",), "演示坐席", "demo operator"),
)


@app.command()
def init() -> None:
    """Migrate, load the 老河口市 divisions and the small demo county, and make sure the demo
    accounts exist: a system admin (accounts only, no business data, 三员分立) and a county-wide
    operations-centre operator (坐席) to log in to the map with.

    Passwords are one-time: printed here, to be changed at first login. Rerunning prints a fresh
    one as long as the last one was never used; once changed, it is left alone.
    """
    settings = Settings()
    upgrade(settings.resolved_database_url)
    p = platform(settings)
    # The divisions and their audit record commit together (nothing new: nothing committed).
    with p.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change:
        added = load_divisions(change.session)
        if added:
            change.record(
                Entry(
                    "config_change",
                    cli_actor(),
                    object_type="jurisdiction",
                    detail=f"loaded divisions: {added} new nodes",
                )
            )
        else:
            change.nothing_changed()
    # The demo county (grids, buildings, people…): the small one, once, if none is loaded.
    if load_small_if_empty(p):
        typer.echo("demo county generated (scale small, seed 1)")
    if demo_cases_if_empty(p):
        typer.echo("demo cases generated (12 months, seed 1)")
    for account in DEMO_ACCOUNTS:
        _ensure_account(p, account)


def _ensure_account(p: Platform, account: DemoAccount) -> None:
    with p.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        user = session.scalar(select(User).where(User.username == account.username))
        kept = user is not None and not user.must_change_password
    if kept:  # its owner chose a password: leave it alone
        typer.echo(
            f"{account.what} '{account.username}' already set up (reset: "
            f"yitu user reset-password {account.username})"
        )
        return
    one_time = generate_password()
    with p.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change:
        user = change.session.scalar(select(User).where(User.username == account.username))
        if user is None:
            user = users.create_user(
                change.session,
                p.clock,
                account.username,
                one_time,
                display_name=account.display_name,
                role=account.role,
                scope_codes=list(account.scope_codes),
            )
            action = "created"
        else:
            users.reset_password(user, one_time)
            action = "reset"
        change.session.flush()
        change.record(
            Entry(
                "create" if action == "created" else "update",
                cli_actor(),
                object_type="user",
                object_ids=[user.id],
                detail=account.what,
            )
        )
    typer.echo(f"{account.what} '{account.username}' {action}; one-time password: {one_time}")
    typer.echo("(change it at first login: the map asks for it, or POST /api/v1/auth/password)")


@app.command()
def generate(
    scale: str = typer.Option("small", help="small (a few thousand people) | town | laohekou"),
    seed: int = typer.Option(1, help="same seed, same county"),
    replace: bool = typer.Option(False, help="delete the loaded demo county first"),
    progress: bool = typer.Option(True, help="progress bar"),
) -> None:
    """Generate the demo county on 老河口市's real divisions and load it (one transaction)."""
    try:
        generate_command(platform(), scale, seed, replace, progress)
    except YituError as exc:
        raise typer.BadParameter(exc.detail) from exc
