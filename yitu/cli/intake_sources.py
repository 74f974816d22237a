"""``yitu demo sources``: the loaded demo county as noisy department files with known truth
(``yitu.intake.synth``), for trying the importer and for its tests and benchmark."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from yitu.core.errors import YituError


def sources(
    out: Annotated[Path, typer.Option("--out", help="directory for the files (created)")],
    seed: Annotated[int, typer.Option(help="same county and seed, same files")] = 1,
    only: Annotated[
        list[str] | None,
        typer.Option("--source", help="only these sources (repeatable); default all"),
    ] = None,
) -> None:
    """Write the demo county's people and person–house relations as 公安/民政/卫健/网格 source
    files (XLSX/CSV) with mapping files, truth.csv, truth_relations.csv and manifest.json."""
    from yitu.audit.chain import Entry
    from yitu.cli._common import cli_actor, platform
    from yitu.intake.synth import SOURCE_KEYS, read_county, write_sources

    started = time.perf_counter()
    # Every person's name, ID and phone leaves the database (in noisy form): an export, audited
    # before any file reaches ``out``. The files are written to a staging directory beside it
    # and moved in (a rename, same file system) only once the record is committed; if it cannot
    # be, they are deleted and nothing was exported.
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-staging-", dir=out.parent))
    try:
        try:
            p = platform()
            data = read_county(p.db)

            def tick(key: str, rows: int) -> None:
                typer.echo(f"  {key:<11} {rows:>9,} rows  {time.perf_counter() - started:6.1f}s")

            keys = tuple(only or ()) or SOURCE_KEYS
            written = write_sources(data, staging, seed, keys, progress=tick)
        except YituError as exc:
            raise typer.BadParameter(exc.detail) from exc
        p.audit.record(
            Entry(
                "export",
                cli_actor(),
                object_type="person",
                fields=["name", "id_number", "phone", "address", "birth_date"],
                purpose="test data",
                detail=f"demo sources: {data.n} people, {len(written)} files, seed {seed}",
            )
        )
        out.mkdir(exist_ok=True)
        for f in staging.iterdir():
            f.replace(out / f.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    total = sum(w.rows for w in written)
    typer.echo(
        f"wrote {len(written)} sources ({total:,} rows) and truth files to {out} "
        f"in {time.perf_counter() - started:.1f}s"
    )
