"""``yitu import``: import a source's files (CSV/XLSX with a mapping file), link people,
write the data-quality report and work the review queue. A trusted local tool (UNRESTRICTED,
like the other CLI commands); what it prints of people is masked at the list tier (L1), and
its imports and review decisions are audited under the operating-system user."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from yitu.access.masking import Tier
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.audit.chain import Entry
from yitu.cli._common import cli_actor, platform
from yitu.core.errors import YituError

app = typer.Typer(help="Import, clean, deduplicate and link county records.", no_args_is_help=True)
review_app = typer.Typer(help="The review queue of uncertain matches.", no_args_is_help=True)
app.add_typer(review_app, name="review")


@app.command("run")
def run(
    files: Annotated[list[Path], typer.Argument(help="CSV or XLSX files of this source")],
    source: Annotated[str, typer.Option(help="source name, e.g. police, health")],
    mapping: Annotated[Path, typer.Option(help="column-mapping file (TOML)")],
    batch_size: Annotated[int, typer.Option(help="rows per transaction")] = 10_000,
    rejects: Annotated[
        Path | None, typer.Option(help="write rejected rows here (.csv/.xlsx)")
    ] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    workers: Annotated[
        int,
        typer.Option(
            help="processes cleaning rows in parallel (1: in this process; more pays only "
            "beyond two cores, at about 1 GB each for a county)"
        ),
    ] = 1,
    merge_at: Annotated[
        float, typer.Option(help="match probability from which records are merged")
    ] = 0.99,
    review_at: Annotated[
        float, typer.Option(help="match probability from which a pair goes to review")
    ] = 0.80,
) -> None:
    """Import FILES as SOURCE; people are linked across all sources at the end."""
    from yitu.intake.linkage import LinkSettings
    from yitu.intake.mapping import load_mapping
    from yitu.intake.report import write_rejects
    from yitu.intake.service import run_import

    if not 0 < review_at <= merge_at <= 1:
        raise typer.BadParameter("need 0 < --review-at <= --merge-at <= 1")
    p = platform()
    started = time.perf_counter()
    try:
        m = load_mapping(mapping)
        columns = (
            TextColumn("{task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, disable=not progress) as bar:
            tasks: dict[str, int] = {}

            def tick(name: str, done: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(name[:28], total=total)
                bar.update(tasks[name], completed=done)

            link_task = None

            def step(name: str) -> None:
                nonlocal link_task
                if link_task is None:
                    link_task = bar.add_task("link people", total=3)
                bar.update(link_task, advance=1, description=f"link people: {name}")

            result = run_import(
                p.db,
                source,
                m,
                files,
                now=p.clock.now,
                batch_size=batch_size,
                progress=tick,
                step=step,
                workers=workers,
                link_settings=LinkSettings(
                    merge_probability=merge_at, review_probability=review_at
                ),
            )
    except YituError as exc:
        raise typer.BadParameter(exc.detail) from exc
    for f in result.files:
        acc = result.accounts[f.name]
        note = " (already imported: nothing changed)" if f.already_imported else ""
        typer.echo(
            f"{f.name}: {acc['rows']} rows = {acc['accepted']} accepted + {acc['merged']} merged "
            f"+ {acc['rejected']} rejected{note}"
        )
    if result.link is not None:
        lk = result.link
        typer.echo(
            f"linkage: {lk.records} people records, {lk.pending} new; {lk.pairs} scored pairs; "
            f"{lk.people_created} people created, {lk.people_updated} updated; "
            f"{lk.review_items} to review"
        )
    if rejects is not None:
        with p.db.engine.connect() as conn:
            n = write_rejects(conn, rejects, [f.file_id for f in result.files])
        typer.echo(f"{n} rejected rows written to {rejects}")
    p.audit.record(
        Entry(
            "import",
            cli_actor(),
            object_type="intake",
            detail=f"source {source}: {len(files)} file(s), "
            f"{sum(f.rows for f in result.files)} rows",
        )
    )
    typer.echo(f"time {time.perf_counter() - started:.1f}s")


@app.command("report")
def report(out: Annotated[Path, typer.Option(help="directory for quality.html/.xlsx")]) -> None:
    """Write the data-quality report (HTML and XLSX) and all rejects (rejects.xlsx)."""
    from yitu.intake.report import write_rejects, write_report

    p = platform()
    with p.db.engine.connect() as conn:
        html, xlsx = write_report(conn, out)
        n = write_rejects(conn, out / "rejects.xlsx")
    typer.echo(f"wrote {html}, {xlsx} and {out / 'rejects.xlsx'} ({n} rejected rows)")


@review_app.command("list")
def review_list(status: str = "pending", limit: int = 50, after: int | None = None) -> None:
    """Uncertain matches, masked (L1)."""
    from yitu.intake import review
    from yitu.intake.api import _review

    p = platform()
    with p.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        views = review.list_reviews(session, status, after, limit)
        items = [_review(v, Tier.L1).model_dump() for v in views]
    for item in items:
        typer.echo(json.dumps(item, ensure_ascii=False))
    typer.echo(f"{len(items)} item(s)")


def _merge_detail(item_id: int, keep: int, gone: int | None) -> str:
    if gone is None:  # a record the linkage had rejected (no birth date) joined a person
        return f"intake review {item_id}: record linked to person {keep}"
    return f"intake review {item_id}: merged person {gone} into {keep}"


@review_app.command("merge")
def review_merge(item_id: int) -> None:
    """Accept a match: merge the two people."""
    from yitu.intake import review

    p = platform()
    actor = cli_actor()
    try:
        with p.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change:
            keep, gone = review.accept_merge(change.session, item_id, actor.username, p.clock.now())
            change.record(
                Entry(
                    "update",
                    actor,
                    object_type="person",
                    object_ids=[keep] if gone is None else [keep, gone],
                    detail=_merge_detail(item_id, keep, gone),
                )
            )
    except YituError as exc:
        raise typer.BadParameter(exc.detail) from exc
    typer.echo(_merge_detail(item_id, keep, gone))


@review_app.command("reject")
def review_reject(item_id: int) -> None:
    """Reject a match: different people."""
    from yitu.intake import review

    p = platform()
    actor = cli_actor()
    try:
        with p.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change:
            view = review.reject(change.session, item_id, actor.username, p.clock.now())
            ids = sorted({x for x in (view.a.person_id, view.b.person_id) if x is not None})
            change.record(
                Entry(
                    "update",
                    actor,
                    object_type="person",
                    object_ids=ids,
                    detail=f"intake review {item_id}: not the same person",
                )
            )
    except YituError as exc:
        raise typer.BadParameter(exc.detail) from exc
    typer.echo(f"review item {item_id} rejected")
