"""``yitu user``: accounts from the command line (bootstrap and recovery)."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select

from yitu.access import users
from yitu.access.models import User
from yitu.access.passwords import generate_password
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.audit.chain import Entry
from yitu.cli._common import cli_actor, platform
from yitu.core.errors import NotFoundError, YituError

app = typer.Typer(help="User accounts.", no_args_is_help=True)


@app.command("add")
def add(
    username: str,
    role: Annotated[str, typer.Option(help="operator, grid_worker, ..., sys_admin, sec_admin")],
    scope: Annotated[
        list[str] | None, typer.Option(help="jurisdiction code the user works in (repeatable)")
    ] = None,
    display_name: Annotated[str, typer.Option(help="name shown in the UI")] = "",
    password: Annotated[str, typer.Option(help="initial password; default: a one-time one")] = "",
) -> None:
    """Create an account. Without --password a one-time password is generated and printed."""
    p = platform()
    one_time = password or generate_password()
    try:
        with p.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change:  # account + record, or neither
            user = users.create_user(
                change.session,
                p.clock,
                username,
                one_time,
                display_name=display_name,
                role=users.parse_role(role),
                scope_codes=scope,
                must_change_password=True,
            )
            user_id = user.id
            change.record(
                Entry(
                    "create",
                    cli_actor(),
                    object_type="user",
                    object_ids=[user_id],
                    detail=f"role={role}",
                )
            )
    except YituError as exc:
        raise typer.BadParameter(exc.detail) from exc
    typer.echo(f"created user {username} (id {user_id}, role {role})")
    if not password:
        typer.echo(f"one-time password: {one_time}")


@app.command("reset-password")
def reset_password(username: str) -> None:
    """Set a new one-time password (printed) and unlock the account."""
    p = platform()
    one_time = generate_password()
    with p.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change:
        user = change.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise typer.BadParameter(NotFoundError(f"user {username} does not exist").detail)
        users.reset_password(user, one_time)
        change.record(
            Entry(
                "update",
                cli_actor(),
                object_type="user",
                object_ids=[user.id],
                detail="password reset",
            )
        )
    typer.echo(f"one-time password for {username}: {one_time}")
