"""Glue between ``yitu demo`` and the generator: progress bar, timings, audit record."""

from __future__ import annotations

import time

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from yitu.audit.chain import Entry
from yitu.demo.generate import check_args, generate
from yitu.demo.load import county_loaded, load
from yitu.runtime import Platform

SMALL_SEED = 1


def run(p: Platform, scale: str, seed: int, replace: bool, progress: bool) -> dict[str, float]:
    """Generate and load; return row counts and per-phase seconds (``t_<phase>``)."""
    check_args(scale, seed)
    timings: dict[str, float] = {}
    last = [time.perf_counter(), ""]

    def mark(phase: str) -> None:
        now = time.perf_counter()
        if last[1]:
            timings[f"t_{last[1]}"] = timings.get(f"t_{last[1]}", 0.0) + now - float(last[0])
        last[:] = [now, phase]

    columns = (
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, disable=not progress, transient=False) as bar:
        gen_task = bar.add_task("generate", total=8)
        tasks: dict[str, int] = {}

        def step(phase: str) -> None:
            mark(phase)
            bar.update(gen_task, advance=1, description=f"generate {phase}")

        demo = generate(scale, seed, step)
        bar.update(gen_task, completed=8, description="generate")
        mark("load")

        def tick(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(f"load {table}", total=total)
            bar.update(tasks[table], completed=done)

        record = Entry(
            "config_change",
            _actor(),
            object_type="demo",
            detail=f"demo county generated: scale {scale}, seed {seed}",
        )
        # The county and its audit record commit in the load's one transaction, or neither.
        counts = load(
            p.db, demo, replace=replace, tick=tick, audit=lambda c: p.audit.append_in(c, [record])
        )
        mark("")
    return {**counts, **timings}


def _actor():
    from yitu.cli._common import cli_actor

    return cli_actor()


def generate_command(p: Platform, scale: str, seed: int, replace: bool, progress: bool) -> None:
    started = time.perf_counter()
    result = run(p, scale, seed, replace, progress)
    rows = ", ".join(f"{k} {int(v):,}" for k, v in result.items() if not k.startswith("t_"))
    phases = ", ".join(f"{k[2:]} {v:.1f}s" for k, v in result.items() if k.startswith("t_"))
    typer.echo(f"demo county loaded ({scale}, seed {seed}): {rows}")
    typer.echo(f"time {time.perf_counter() - started:.1f}s ({phases})")


def load_small_if_empty(p: Platform) -> bool:
    """`demo init`'s hook: the small county with seed 1, once (idempotent)."""
    with p.db.engine.connect() as conn:
        if county_loaded(conn):
            return False
    run(p, "small", SMALL_SEED, replace=False, progress=False)
    return True
