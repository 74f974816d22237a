"""Import of one file in batches: idempotent, atomic per batch, resumable.

* A file is known by ``(source, kind, SHA-256 of its bytes)``: a file already imported in full
  changes nothing when run again.
* Rows are cut into batches of ``batch_size`` (fixed when the file is first seen, so a re-run
  cuts the same batches). Each batch — its rows' records, issues, registry changes and the
  batch row itself — is one transaction: a crash or SIGKILL leaves every batch either complete
  or absent, and a re-run resumes at the first absent batch.
* A row already imported from the same source (same row hash, e.g. the same record in this
  month's and last month's export) is ``merged`` into that record and stores nothing new.

Every row ends in exactly one of accepted / merged / rejected; people rows stay ``pending``
only until the linkage run of the same command decides between accepted and merged.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, func, insert, select, update

from yitu.access.models import JurisdictionNode, Level
from yitu.core.db import Database
from yitu.core.errors import InvalidInputError
from yitu.core.heap import bulk_heap
from yitu.intake.apply import FileLookups, apply_batch
from yitu.intake.bulk import bulk_insert, bulk_page_cache, refresh_statistics
from yitu.intake.clean import AddressMatcher
from yitu.intake.mapping import Mapping
from yitu.intake.models import ImportBatch, ImportFile, Kind, Outcome, RowIssue, SourceRecord
from yitu.intake.reader import file_hash, open_table
from yitu.intake.rows import REJECT, CleanMemo, MemoEntries, RowCleaner, RowResult
from yitu.registry.models import Organisation, PersonHouse

DEFAULT_BATCH = 10_000
Progress = Callable[[int, int], None]  # rows done, rows total

RECORD_DEFAULTS: dict[str, Any] = {
    "observed_on": None,
    "name": "",
    "name_key": "",
    "id_number": "",
    "id_digits": "",
    "phone": "",
    "birth_date": None,
    "gender": "",
    "address": "",
    "address_id": None,
    "house_id": None,
    "building_id": None,
    "relation": "",
    "house_use": "",
    "credit_code": "",
    "org_name": "",
    "org_kind": "",
    "outcome": Outcome.PENDING.value,
    "person_id": None,
    "org_id": None,
    "target_id": None,
    "node_id": None,
}


# What an import of each kind writes in bulk (its statistics are refreshed after each file).
WRITTEN: dict[Kind, tuple[Table, ...]] = {
    Kind.PEOPLE: (SourceRecord.__table__, RowIssue.__table__),
    Kind.HOUSES: (SourceRecord.__table__, RowIssue.__table__),
    Kind.ORGANISATIONS: (SourceRecord.__table__, RowIssue.__table__, Organisation.__table__),
    Kind.RELATIONS: (SourceRecord.__table__, RowIssue.__table__, PersonHouse.__table__),
}


@dataclass
class FileResult:
    file_id: int
    name: str
    kind: str
    rows: int = 0
    stored: int = 0  # records written (people: outcome decided by the linkage)
    accepted: int = 0
    merged: int = 0  # includes rows already imported (duplicates)
    rejected: int = 0
    batches_done: int = 0  # batches committed by this run
    batches_skipped: int = 0  # batches found committed (resumed or re-run)
    already_imported: bool = False
    # Seconds per step: read (file into rows, wall), clean (CPU time of the cleaners, summed
    # over the workers; includes address), address (CPU: parse + match of each distinct text),
    # write (wall: the batch transactions), wait (wall: the writer waiting for cleaned batches).
    timings: dict[str, float] = field(default_factory=dict)


def county_node_id(conn: Connection) -> int:
    """Records whose address matched nothing belong to the county (the tree's root)."""
    node = conn.execute(
        select(JurisdictionNode.id)
        .where(JurisdictionNode.level == Level.COUNTY.value)
        .order_by(JurisdictionNode.id)
        .limit(1)
    ).scalar()
    if node is None:
        raise InvalidInputError("no county in the jurisdiction tree: load the divisions first")
    return int(node)


def town_names(conn: Connection) -> dict[int, str]:
    """Every node's town name (for the report's counts by town)."""
    rows = conn.execute(
        select(
            JurisdictionNode.id,
            JurisdictionNode.code,
            JurisdictionNode.name,
            JurisdictionNode.level,
            JurisdictionNode.path,
        )
    ).all()
    by_code = {r.code: r for r in rows}
    towns: dict[int, str] = {}
    for r in rows:
        for code in r.path.strip("/").split("/"):
            node = by_code.get(code)
            if node is not None and node.level == Level.TOWN.value:
                towns[r.id] = node.name
                break
    return towns


def known_hashes(conn: Connection, source: str, kind: Kind) -> set[str]:
    return set(
        conn.execute(
            select(SourceRecord.row_hash).where(
                SourceRecord.source == source, SourceRecord.kind == kind.value
            )
        ).scalars()
    )


def _file_row(
    conn: Connection,
    source: str,
    mapping: Mapping,
    path: Path,
    digest: str,
    rows_total: int,
    batch_size: int,
    now: datetime,
) -> tuple[int, bool, int]:
    """(file id, complete, batch size) — the existing row or a new one."""
    row = conn.execute(
        select(ImportFile.id, ImportFile.complete, ImportFile.batch_size).where(
            ImportFile.source == source,
            ImportFile.kind == mapping.kind.value,
            ImportFile.file_hash == digest,
        )
    ).first()
    if row is not None:
        return int(row.id), bool(row.complete), int(row.batch_size)
    file_id = conn.execute(
        insert(ImportFile)
        .values(
            source=source,
            kind=mapping.kind.value,
            file_name=path.name[:200],
            file_hash=digest,
            mapping_hash=mapping.digest,
            rows_total=rows_total,
            batch_size=batch_size,
            complete=False,
            started_at=now,
            finished_at=None,
        )
        .returning(ImportFile.id)
    ).scalar_one()
    return int(file_id), False, batch_size


def import_file(
    db: Database,
    path: Path,
    mapping: Mapping,
    source: str,
    *,
    matcher: AddressMatcher | None,
    today: date,
    now: Callable[[], datetime],
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
    after_batch: Callable[[int], None] | None = None,
    workers: int = 1,
    memo: CleanMemo | None = None,
) -> FileResult:
    """Import ``path`` (CSV or XLSX) as ``source`` with ``mapping``; see the module doc.
    ``memo``: cleaning results by text shared with the run's other files (same database)."""
    if not source or len(source) > 40:
        raise InvalidInputError("source must be 1–40 characters")
    if batch_size < 1:
        raise InvalidInputError("batch size must be at least 1")
    # The file's rows, the matcher and the memo stay in memory to the end: the collector is
    # kept off them, and off each batch's survivors (memo entries) once it is written.
    with bulk_heap() as settle:
        started = time.perf_counter()
        digest = file_hash(path)
        table = open_table(path, mapping.sheet, mapping.encoding)
        mapping.indexes(table.header)  # a missing column is an error before anything is written
        data = list(table.rows)
        read_s = time.perf_counter() - started
        with db.engine.begin() as conn:
            file_id, complete, batch_size = _file_row(
                conn, source, mapping, path, digest, len(data), batch_size, now()
            )
            committed = conn.execute(
                select(func.count()).select_from(ImportBatch).where(ImportBatch.file_id == file_id)
            ).scalar_one()
            root = county_node_id(conn)
            towns = town_names(conn)
            seen = known_hashes(conn, source, mapping.kind) if not complete else set()
        result = FileResult(file_id, path.name, mapping.kind.value, rows=len(data))
        timings = result.timings
        timings.update(read=read_s, clean=0.0, address=0.0, write=0.0, wait=0.0)
        if complete:
            result.already_imported = True
            result.batches_skipped = committed
            return result
        cleaner = RowCleaner(mapping, table.header, source, matcher, today, towns, memo)
        batches = [data[i : i + batch_size] for i in range(0, len(data), batch_size)]
        result.batches_skipped = committed
        done_rows = sum(len(b) for b in batches[:committed])
        if progress:
            progress(done_rows, len(data))
        lookups = FileLookups()
        # One connection for the file's batches (each its own transaction), with a bulk page cache.
        with db.engine.connect() as conn, bulk_page_cache(conn):
            waited = time.perf_counter()
            for seq, (results, clean_s, address_s, new) in zip(
                range(committed, len(batches)),
                _cleaned(cleaner, batches[committed:], workers),
                strict=True,
            ):
                t = time.perf_counter()
                timings["wait"] += t - waited
                timings["clean"] += clean_s
                timings["address"] += address_s
                # a worker's results: the next file's workers start with them
                cleaner.memo.merge(new)
                _write_batch(
                    conn,
                    file_id,
                    seq,
                    results,
                    source,
                    mapping.kind,
                    seen,
                    root,
                    today,
                    now,
                    lookups,
                )
                settle()
                waited = time.perf_counter()
                timings["write"] += waited - t
                result.batches_done += 1
                done_rows += len(results)
                if progress:
                    progress(done_rows, len(data))
                if after_batch:
                    after_batch(seq)
            with conn.begin():
                conn.execute(
                    update(ImportFile)
                    .where(ImportFile.id == file_id)
                    .values(complete=True, finished_at=now())
                )
                refresh_statistics(conn, WRITTEN[mapping.kind])
        return result


_CLEANER: RowCleaner | None = None  # the forked workers' cleaner (inherited, not pickled)


# results, clean CPU s, of which address, memo entries computed
Cleaned = tuple[list[RowResult], float, float, MemoEntries]


def _clean_rows(cleaner: RowCleaner, rows: list[tuple[int, list[str]]]) -> Cleaned:
    # CPU time, not wall: on a shared machine a worker's wall clock measures the others too.
    # The address share is timed by the (cheap) wall clock per address and applied to the CPU
    # time (a CPU-time clock read per address is a system call here).
    cpu, wall = time.process_time(), time.perf_counter()
    before = cleaner.address_s
    results = [cleaner.clean(n, values) for n, values in rows]
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    address = cpu * (cleaner.address_s - before) / wall if wall > 0 else 0.0
    return results, cpu, address, cleaner.take_new()


def _clean_batch(rows: list[tuple[int, list[str]]]) -> Cleaned:
    assert _CLEANER is not None
    return _clean_rows(_CLEANER, rows)


def _cleaned(
    cleaner: RowCleaner, batches: list[list[tuple[int, list[str]]]], workers: int
) -> Iterator[Cleaned]:
    """Cleaned batches in order. With ``workers`` > 1, forked processes clean the next batches
    while this one writes the current one (cleaning is pure CPU and holds the GIL; the
    workers touch no database connection)."""
    global _CLEANER
    if workers <= 1 or len(batches) < 2 or "fork" not in mp.get_all_start_methods():
        for rows in batches:
            yield _clean_rows(cleaner, rows)
        return
    _CLEANER = cleaner
    # The parent's objects moved out of the collector's reach before forking: a worker's
    # collection would otherwise write to every tracked object's header and so copy the
    # parent's whole heap (the address matcher, a county's lookups) into each worker.
    # (import_file's bulk_heap unfreezes them when the file is done.)
    gc.freeze()
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            yield from pool.imap(_clean_batch, batches)
    finally:
        _CLEANER = None


def _write_batch(
    conn: Connection,
    file_id: int,
    seq: int,
    results: list[RowResult],
    source: str,
    kind: Kind,
    seen: set[str],
    root: int,
    today: date,
    now: Callable[[], datetime],
    lookups: FileLookups | None = None,
) -> None:
    """One transaction: batch row, registry changes, records, issues."""
    duplicates = 0
    fresh: list[RowResult] = []
    batch_hashes: set[str] = set()
    for r in results:
        if r.record is not None and (r.row_hash in seen or r.row_hash in batch_hashes):
            duplicates += 1  # merged into the record imported before; nothing new stored
            r.record = None
            r.issues = []
            continue
        if r.record is not None:
            batch_hashes.add(r.row_hash)
        fresh.append(r)
    with conn.begin():
        batch_id = conn.execute(
            insert(ImportBatch)
            .values(
                file_id=file_id,
                seq=seq,
                row_start=results[0].row_number if results else 0,
                rows=len(results),
                stored=0,
                duplicates=duplicates,
                rejected=0,
                committed_at=now(),
            )
            .returning(ImportBatch.id)
        ).scalar_one()
        apply_batch(conn, kind, fresh, source, today, lookups)
        records = []
        issues = []
        for r in fresh:
            if r.record is not None:
                rec = {**RECORD_DEFAULTS, **r.record}
                if rec["node_id"] is None:
                    rec["node_id"] = root
                rec.update(file_id=file_id, batch_id=batch_id, source=source, kind=kind.value)
                records.append(rec)
            for issue in r.issues:
                issues.append(
                    {
                        "file_id": file_id,
                        "batch_id": batch_id,
                        "row_number": r.row_number,
                        "severity": issue.severity
                        if r.record is None or issue.severity != REJECT
                        else "warning",
                        "field": issue.field[:40],
                        "code": issue.code[:40],
                        "message": issue.message[:200],
                        "town": r.town[:40],
                        "masked_value": issue.masked_value[:80],
                    }
                )
        rejected = sum(1 for r in fresh if r.record is None)
        # A rejected row must name at least one reason.
        for r in fresh:
            if r.record is None and not any(i.severity == REJECT for i in r.issues):
                issues.append(
                    {
                        "file_id": file_id,
                        "batch_id": batch_id,
                        "row_number": r.row_number,
                        "severity": REJECT,
                        "field": "row",
                        "code": "unusable",
                        "message": "row could not be used",
                        "town": r.town[:40],
                        "masked_value": "",
                    }
                )
        bulk_insert(conn, SourceRecord.__table__, records)
        bulk_insert(conn, RowIssue.__table__, issues)
        if kind == Kind.RELATIONS:
            # The next batch looks up its people's open relations in the table this one grew:
            # planned with the statistics of the table as it was before the file (empty, in a
            # new county), PostgreSQL scanned all of it for every 500 people, batch after batch
            # (the county's first relations file: 722 s of writing against 112 s for the next).
            refresh_statistics(conn, (PersonHouse.__table__,))
        conn.execute(
            update(ImportBatch)
            .where(ImportBatch.id == batch_id)
            .values(stored=len(records), rejected=rejected)
        )
    seen |= batch_hashes


def accounting(conn: Connection, file_id: int) -> dict[str, int]:
    """Where the file's rows ended. ``rows == accepted + merged + rejected + pending``;
    pending is 0 once the linkage run has decided the people records."""
    rows, duplicates, rejected = conn.execute(
        select(
            ImportFile.rows_total,
            func.coalesce(
                select(func.sum(ImportBatch.duplicates))
                .where(ImportBatch.file_id == file_id)
                .scalar_subquery(),
                0,
            ),
            func.coalesce(
                select(func.sum(ImportBatch.rejected))
                .where(ImportBatch.file_id == file_id)
                .scalar_subquery(),
                0,
            ),
        ).where(ImportFile.id == file_id)
    ).one()
    outcomes = dict(
        conn.execute(
            select(SourceRecord.outcome, func.count())
            .where(SourceRecord.file_id == file_id)
            .group_by(SourceRecord.outcome)
        ).all()
    )
    out = {
        "rows": int(rows),
        "accepted": int(outcomes.get(Outcome.ACCEPTED.value, 0)),
        "merged": int(outcomes.get(Outcome.MERGED.value, 0)) + int(duplicates),
        # Rows rejected while cleaning (no record) plus records the linkage rejected (a people
        # row without a birth date and without a confident match).
        "rejected": int(rejected) + int(outcomes.get(Outcome.REJECTED.value, 0)),
        "pending": int(outcomes.get(Outcome.PENDING.value, 0)),
        "duplicates": int(duplicates),
    }
    return out
