"""``yitu import run``'s work: import the files of one source, link the people, account for
every row. Shared by the CLI, the API-less benchmark and the tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.core.db import Database
from yitu.core.errors import InvalidInputError
from yitu.core.heap import bulk_heap
from yitu.intake.clean import AddressMatcher
from yitu.intake.importer import DEFAULT_BATCH, FileResult, accounting, import_file
from yitu.intake.linkage import LinkResult, LinkSettings, link_people
from yitu.intake.mapping import Mapping
from yitu.intake.models import ImportFile, Kind
from yitu.intake.rows import CleanMemo

FileProgress = Callable[[str, int, int], None]  # file name, rows done, rows total


@dataclass
class RunResult:
    files: list[FileResult] = field(default_factory=list)
    link: LinkResult | None = None
    accounts: dict[str, dict[str, int]] = field(default_factory=dict)


def build_matcher(db: Database) -> AddressMatcher:
    """The registry's address matcher (reads every standard address once)."""
    # Millions of long-lived objects allocated at once: the collector would walk them over
    # and over while they are built.
    with bulk_heap(), db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        return AddressMatcher.from_session(session)


def run_import(
    db: Database,
    source: str,
    mapping: Mapping,
    paths: list[Path],
    *,
    now: Callable[[], datetime],
    batch_size: int = DEFAULT_BATCH,
    link: bool = True,
    link_settings: LinkSettings | None = None,
    progress: FileProgress | None = None,
    step: Callable[[str], None] | None = None,
    matcher: AddressMatcher | None = None,
    workers: int = 1,
    memo: CleanMemo | None = None,
) -> RunResult:
    """Import ``paths`` as ``source``; then link all people records (if any are pending) and
    check that every row of every file is accounted for. ``memo`` (with ``matcher``) carries
    cleaning results over from an earlier call on the same database."""
    if mapping.source and mapping.source != source:
        raise InvalidInputError(f"the mapping is for source {mapping.source!r}, not {source!r}")
    for p in paths:
        if not p.is_file():
            raise InvalidInputError(f"no such file: {p.name}")
    matcher = matcher or build_matcher(db)
    today = now().date()
    memo = memo if memo is not None else CleanMemo()  # shared by this call's files
    result = RunResult()
    for p in paths:
        cb = (lambda done, total, name=p.name: progress(name, done, total)) if progress else None
        result.files.append(
            import_file(
                db,
                p,
                mapping,
                source,
                matcher=matcher,
                today=today,
                now=now,
                batch_size=batch_size,
                progress=cb,
                workers=workers,
                memo=memo,
            )
        )
    if link and mapping.kind == Kind.PEOPLE:
        result.link = link_people(db, now, link_settings, step)
    with db.engine.connect() as conn:
        for f in result.files:
            acc = accounting(conn, f.file_id)
            if result.link is not None or mapping.kind != Kind.PEOPLE:
                # Every row ends in exactly one place.
                assert acc["pending"] == 0, acc
            assert (
                acc["rows"] == acc["accepted"] + acc["merged"] + acc["rejected"] + acc["pending"]
            ), acc
            f.accepted, f.merged, f.rejected = acc["accepted"], acc["merged"], acc["rejected"]
            f.stored = f.rows - acc["duplicates"] - acc["rejected"]
            result.accounts[f.name] = acc
    return result


def files_of(db: Database) -> list[dict[str, object]]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(ImportFile).order_by(ImportFile.id)).mappings().all()
        return [dict(r) | {"accounting": accounting(conn, int(r["id"]))} for r in rows]
