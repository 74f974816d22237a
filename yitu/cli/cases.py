"""``yitu cases``: load the category dictionary and departments, run the warning/督办 sweep and
the webhook outbox, list categories, add department members. A trusted local tool (reads
UNRESTRICTED, prints no personal data)."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from sqlalchemy import select

from yitu.access.models import User
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.audit.chain import Entry
from yitu.cases import catalog, notify, services
from yitu.cases.models import DepartmentMember
from yitu.cli._common import cli_actor, platform
from yitu.core.errors import YituError
from yitu.runtime import Platform

app = typer.Typer(help="City operations cases (案件).", no_args_is_help=True)


@app.command("seed")
def seed() -> None:
    """Load the bundled categories (GB/T 30428 部件/事件 + social types) and departments."""
    counts = seed_catalog(platform())
    typer.echo(json.dumps(counts))


def seed_catalog(p: Platform) -> dict[str, int]:
    """``catalog.seed`` with its audit record in the same transaction; a seed that finds
    everything in place changes and records nothing."""
    with p.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change:
        counts = catalog.seed(change.session, p.clock.now())
        if any(counts.values()):
            change.record(Entry("config_change", cli_actor(), object_type="case_catalog",
                                detail=json.dumps(counts, sort_keys=True)))
        else:
            change.nothing_changed()
    return counts


@app.command("sweep")
def sweep(
    every: Annotated[int, typer.Option(help="repeat every N seconds (0: once)")] = 0,
) -> None:
    """Yellow/red warnings and 督办 for overdue stages; then send pending webhooks."""
    p = platform()
    while True:
        with p.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
            r = services.sweep(s, at=p.clock.now())
        d = notify.deliver_pending(p.db)
        typer.echo(json.dumps({"yellow": r.yellow, "red": r.red, "supervisions": r.supervisions,
                               "delivered": d.delivered, "retrying": d.retrying,
                               "failed": d.failed}))
        if every <= 0:
            return
        time.sleep(every)


@app.command("deliver")
def deliver() -> None:
    """Send the webhook deliveries that are due."""
    d = notify.deliver_pending(platform().db)
    typer.echo(json.dumps({"delivered": d.delivered, "retrying": d.retrying, "failed": d.failed}))


@app.command("categories")
def categories() -> None:
    """The categories in force: code, version, time limit, name."""
    p = platform()
    with p.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        for c in services.list_categories(s):
            limit = c.time_limits["normal"]["handle"]
            typer.echo(f"{c.code}\tv{c.version}\t{limit[0]:g} {limit[1]}\t"
                       f"{c.major_name_zh}/{c.name_zh}")


@app.command("add-member")
def add_member(username: str, department: str) -> None:
    """Let USERNAME handle cases for DEPARTMENT (a code, e.g. cgj)."""
    p = platform()
    try:  # the membership and its audit record commit together, or neither
        with p.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change:
            s = change.session
            dept = catalog.get_department(s, department)
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise typer.BadParameter(f"no user {username}")
            s.add(DepartmentMember(user_id=user.id, department_id=dept.id))
            change.record(Entry("grant", cli_actor(), object_type="case_department",
                                object_ids=[user.id], detail=department))
    except YituError as exc:
        raise typer.BadParameter(exc.detail) from exc
    typer.echo(f"{username} handles cases for {department}")
