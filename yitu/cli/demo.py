"""``yitu demo``: what `make run` sets up on a fresh machine."""

from __future__ import annotations

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

app = typer.Typer(help="Demo set-up for `make run`.", no_args_is_help=True)
app.command("cases")(demo_cases_command)
app.command("sources")(sources)  # noisy department files with truth (yitu.intake.synth)

DEMO_ADMIN = "admin"


@app.command()
def init() -> None:
    """Migrate, load the 老河口市 divisions, and make sure the demo system admin exists.

    The admin's password is one-time: printed here, to be changed at first login. Rerunning
    prints a fresh one as long as the last one was never used; once changed, it is left alone.
    """
    settings = Settings()
    upgrade(settings.resolved_database_url)
    p = platform(settings)
    one_time = generate_password()
    with p.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        added = load_divisions(session)
        admin = session.scalar(select(User).where(User.username == DEMO_ADMIN))
        if admin is None:
            admin = users.create_user(
                session,
                p.clock,
                DEMO_ADMIN,
                one_time,
                display_name="Demo system admin",
                role=Role.SYS_ADMIN,
            )
            action = "created"
        elif admin.must_change_password:
            users.reset_password(admin, one_time)
            action = "reset"
        else:
            action = "kept"
        admin_id = admin.id
    # The demo county (grids, buildings, people…): the small one, once, if none is loaded.
    if load_small_if_empty(p):
        typer.echo("demo county generated (scale small, seed 1)")
    if demo_cases_if_empty(p):
        typer.echo("demo cases generated (12 months, seed 1)")
    if added:
        p.audit.record(
            Entry(
                "config_change",
                cli_actor(),
                object_type="jurisdiction",
                detail=f"loaded divisions: {added} new nodes",
            )
        )
    if action != "kept":
        p.audit.record(
            Entry(
                "create" if action == "created" else "update",
                cli_actor(),
                object_type="user",
                object_ids=[admin_id],
                detail="demo admin",
            )
        )
        typer.echo(f"demo system admin '{DEMO_ADMIN}' {action}; one-time password: {one_time}")
        typer.echo("(change it at first login: POST /api/v1/auth/password)")
    else:
        typer.echo(
            f"demo system admin '{DEMO_ADMIN}' already set up (reset: "
            f"yitu user reset-password {DEMO_ADMIN})"
        )


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
