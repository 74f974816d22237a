"""Import, linkage, accounting, idempotency, kill-and-resume, rejects and report on the small
demo county's noisy sources (``yitu.intake.synth``), against their truth files. Real SQLite or
PostgreSQL (``YITU_TEST_DATABASE_URL``), real subprocess killed with SIGKILL."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from foundation.conftest import DatabaseFactory
from openpyxl import load_workbook
from sqlalchemy import Connection, event, func, insert, select, text, tuple_, update

from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.core.db import Database
from yitu.core.errors import ConflictError
from yitu.demo.generate import Demo
from yitu.demo.load import load
from yitu.intake import review
from yitu.intake.apply import linked_people, name_birth_key
from yitu.intake.evaluate import evaluate, read_truth
from yitu.intake.importer import accounting
from yitu.intake.linkage import (
    IN_REVIEW,
    LINK_CODES,
    NO_MATCH,
    LinkResult,
    LinkSettings,
    Pairs,
    _decide,
    _load,
)
from yitu.intake.mapping import load_mapping
from yitu.intake.models import (
    ImportBatch,
    ImportFile,
    Outcome,
    PersonSource,
    ReviewItem,
    ReviewStatus,
    RowIssue,
    SourceRecord,
)
from yitu.intake.report import write_rejects, write_report
from yitu.intake.service import run_import
from yitu.intake.synth import read_county, write_sources
from yitu.people.models import Person
from yitu.registry.models import PersonHouse

ID_RE = re.compile(r"\d{17}[\dXx]")
MOBILE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
TABLES = (
    "intake_files",
    "intake_batches",
    "intake_records",
    "intake_issues",
    "intake_reviews",
    "intake_person_sources",
    "people",
    "person_houses",
)


def now() -> datetime:
    return datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@dataclass
class Sources:
    dir: Path
    manifest: dict[str, object]

    def of(self, kind: str) -> list[dict[str, str]]:
        return [s for s in self.manifest["sources"] if s["kind"] == kind]  # type: ignore[index,union-attr]

    def get(self, key: str) -> dict[str, str]:
        return next(s for s in self.manifest["sources"] if s["source"] == key)  # type: ignore[union-attr]


def _county(url: str, demo: Demo, out: Path) -> tuple[Database, Sources]:
    """The small demo county (registry only: its people removed) and its noisy sources."""
    db = Database(url)
    load(db, demo)
    write_sources(read_county(db), out, 1)
    with db.engine.begin() as conn:
        for table in ("person_orgs", "person_houses", "people"):
            conn.execute(text(f"DELETE FROM {table}"))
    return db, Sources(out, json.loads((out / "manifest.json").read_text(encoding="utf-8")))


def _counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def _run(db: Database, src: Sources, key: str, batch_size: int = 500, link: bool = True):
    s = src.get(key)
    return run_import(
        db,
        key,
        load_mapping(src.dir / s["mapping"]),
        [src.dir / s["file"]],
        now=now,
        batch_size=batch_size,
        link=link,
    )


@pytest.fixture(scope="module")
def linked(
    databases: DatabaseFactory,
    small_demo: Demo,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Database, Sources, dict[str, dict[str, int]]]]:
    """All people sources imported and linked, then the relation sources applied."""
    db, src = _county(databases.fresh(), small_demo, tmp_path_factory.mktemp("sources"))
    accounts: dict[str, dict[str, int]] = {}
    people = src.of("people")
    for s in people[:-1]:
        accounts.update(_run(db, src, s["source"], link=False).accounts)
    result = _run(db, src, people[-1]["source"])  # links every source at once
    accounts.update(result.accounts)
    for s in src.of("relations"):
        accounts.update(_run(db, src, s["source"]).accounts)
    with db.engine.connect() as conn:  # the earlier files' people were decided by the link
        for f in conn.execute(select(ImportFile.id, ImportFile.file_name)).all():
            accounts[f.file_name] = accounting(conn, f.id)
    yield db, src, accounts
    db.dispose()


def test_every_row_is_accounted_for(linked) -> None:
    db, src, accounts = linked
    for s in src.manifest["sources"]:
        acc = accounts[s["file"]]
        assert acc["rows"] == s["rows"]
        assert acc["pending"] == 0
        assert acc["accepted"] + acc["merged"] + acc["rejected"] == acc["rows"]
    with db.engine.connect() as conn:
        # Each accepted people record created exactly one person; merged ones created none.
        accepted = conn.execute(
            select(func.count()).where(
                SourceRecord.kind == "people", SourceRecord.outcome == Outcome.ACCEPTED.value
            )
        ).scalar_one()
        assert conn.execute(select(func.count()).select_from(Person)).scalar_one() == accepted
        # A rejected row has a reason; rejected counts equal the reject issues' distinct rows.
        for f in conn.execute(select(ImportFile)).all():
            rows = conn.execute(
                select(func.count(func.distinct(RowIssue.row_number))).where(
                    RowIssue.file_id == f.id, RowIssue.severity == "reject"
                )
            ).scalar_one()
            assert rows == accounting(conn, f.id)["rejected"]
        # Relations landed in the registry for the people linked.
        assert conn.execute(select(func.count()).select_from(PersonHouse)).scalar_one() > 0


def test_linkage_precision_and_recall_against_truth(linked) -> None:
    db, src, _ = linked
    with db.engine.connect() as conn:
        ours, peer = evaluate(conn, read_truth(src.dir / "truth.csv"))
    assert ours.records > 10_000 and ours.true_pairs > 5_000
    assert ours.precision >= 0.98, ours
    assert ours.recall >= 0.95, ours
    # The probabilistic linkage finds the pairs an exact-ID dedup misses.
    assert ours.recall > peer.recall


def test_people_have_provenance_and_a_place(linked) -> None:
    db, _, _ = linked
    with db.engine.connect() as conn:
        people = conn.execute(select(func.count()).select_from(Person)).scalar_one()
        prov = conn.execute(text("SELECT count(*) FROM intake_person_sources")).scalar_one()
        assert prov == people
        # The name each person holds came from one of the person's own records.
        bad = conn.execute(
            text(
                "SELECT count(*) FROM intake_person_sources ps JOIN intake_records r "
                "ON r.id = ps.name_record_id JOIN people p ON p.id = ps.person_id "
                "WHERE r.person_id <> p.id OR r.name <> p.name"
            )
        ).scalar_one()
        assert bad == 0
        # Most people sit in a grid from their matched address, not at the county root.
        placed = conn.execute(
            text(
                "SELECT count(*) FROM people p JOIN jurisdiction_nodes n ON n.id = p.node_id "
                "WHERE n.level = 'grid'"
            )
        ).scalar_one()
        assert placed > 0.9 * people


def test_rerun_of_a_file_changes_nothing(linked) -> None:
    db, src, _ = linked
    before = _counts(db)
    result = _run(db, src, src.of("people")[0]["source"])
    assert result.files[0].already_imported
    assert _counts(db) == before
    result = _run(db, src, src.of("relations")[0]["source"])
    assert result.files[0].already_imported
    assert _counts(db) == before


def test_rejects_file_and_report_hold_no_raw_ids_or_phones(linked, tmp_path: Path) -> None:
    db, _, accounts = linked
    with db.engine.connect() as conn:
        n_csv = write_rejects(conn, tmp_path / "rejects.csv")
        n_xlsx = write_rejects(conn, tmp_path / "rejects.xlsx")
        html, xlsx = write_report(conn, tmp_path / "report")
    assert n_csv == n_xlsx == sum(a["rejected"] for a in accounts.values()) > 0
    body = (tmp_path / "rejects.csv").read_text(encoding="utf-8-sig")
    header, first = body.splitlines()[:2]
    assert header.startswith("source,file,row,field,code,reason")
    assert int(first.split(",")[2]) >= 1
    ws = load_workbook(tmp_path / "rejects.xlsx", read_only=True).active
    assert sum(1 for _ in ws.iter_rows()) == n_xlsx + 1
    page = html.read_text(encoding="utf-8")
    for section in (
        "Rows by source",
        "Issues by type",
        "By town",
        "Duplicates found",
        "Unmatched addresses",
    ):
        assert section in page
    assert "id_checksum" in page and "phone_missing" in page
    assert set(load_workbook(xlsx).sheetnames) == {
        "sources",
        "issues",
        "towns",
        "duplicates",
        "unmatched addresses",
    }
    for text_ in (body, page):
        assert not ID_RE.search(text_)
        assert not MOBILE_RE.search(text_)


def test_kill_mid_import_leaves_whole_batches_and_rerun_resumes(
    databases: DatabaseFactory,
    small_demo: Demo,
    tmp_path: Path,
) -> None:
    db, src = _county(databases.fresh(), small_demo, tmp_path / "sources")
    s = src.get("health")
    env = {
        **os.environ,
        "YITU_DATABASE_URL": db.url,
        "YITU_DATA_DIR": str(tmp_path),
        "YITU_AUDIT_KEY": "test-audit-key-0123456789abcdef",
    }
    cmd = [
        sys.executable,
        "-c",
        "from yitu.cli import main; main()",
        "import",
        "run",
        "--source",
        "health",
        "--mapping",
        str(src.dir / s["mapping"]),
        "--batch-size",
        "40",
        "--no-progress",
        str(src.dir / s["file"]),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    committed = 0
    while time.monotonic() < deadline and proc.poll() is None:
        with db.engine.connect() as conn:
            committed = conn.execute(select(func.count()).select_from(ImportBatch)).scalar_one()
        if committed >= 5:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with db.engine.connect() as conn:
        batches = conn.execute(select(ImportBatch)).all()
        assert len(batches) >= 5
        assert not conn.execute(select(ImportFile.complete)).scalar_one()
        for b in batches:  # every committed batch is whole, nothing of a later one is there
            stored = conn.execute(
                select(func.count()).where(SourceRecord.batch_id == b.id)
            ).scalar_one()
            assert stored == b.stored
            assert b.stored + b.duplicates + b.rejected == b.rows == 40
        orphans = conn.execute(
            text(
                "SELECT count(*) FROM intake_records WHERE batch_id NOT IN "
                "(SELECT id FROM intake_batches)"
            )
        ).scalar_one()
        assert orphans == 0
        assert conn.execute(select(func.count()).select_from(Person)).scalar_one() == 0
        done = len(batches)
    result = _run(db, src, "health", batch_size=999)  # the file's batch size (40) is kept
    f = result.files[0]
    assert f.batches_skipped == done and f.batches_done > 0
    acc = result.accounts[s["file"]]
    assert acc["rows"] == s["rows"] == acc["accepted"] + acc["merged"] + acc["rejected"]
    with db.engine.connect() as conn:
        seqs = sorted(conn.execute(select(ImportBatch.seq)).scalars())
        assert seqs == list(range(len(seqs)))
        rows = conn.execute(select(func.sum(ImportBatch.rows))).scalar_one()
        assert rows == s["rows"]


def _unidentified(conn) -> list[tuple[int, str, int, int | None, str]]:
    """(record, source, row, person, outcome) of the people records without a birth date."""
    return [
        tuple(r)
        for r in conn.execute(
            select(
                SourceRecord.id,
                SourceRecord.source,
                SourceRecord.row_number,
                SourceRecord.person_id,
                SourceRecord.outcome,
            ).where(SourceRecord.kind == "people", SourceRecord.birth_date.is_(None))
        )
    ]


def _true_person(conn, truth: dict[tuple[str, int], str]) -> dict[int, str]:
    """Each person's true key: the one most of its identified records carry."""
    votes: dict[int, Counter[str]] = {}
    for source, row, pid in conn.execute(
        select(SourceRecord.source, SourceRecord.row_number, SourceRecord.person_id).where(
            SourceRecord.kind == "people",
            SourceRecord.person_id.is_not(None),
            SourceRecord.birth_date.is_not(None),
        )
    ):
        votes.setdefault(pid, Counter())[truth[(source, row)]] += 1
    return {pid: c.most_common(1)[0][0] for pid, c in votes.items()}


def test_rows_without_id_or_birth_date_link_on_name_phone_and_room(linked) -> None:
    db, src, accounts = linked
    truth = read_truth(src.dir / "truth.csv")
    with db.engine.connect() as conn:
        bare = _unidentified(conn)
        true_person = _true_person(conn, truth)
        codes = dict(
            conn.execute(
                select(RowIssue.code, func.count())
                .where(RowIssue.code.in_(LINK_CODES))
                .group_by(RowIssue.code)
            ).all()
        )
    # The grid survey loses ~6 % of its ID numbers (blank or unreadable): those rows are kept.
    grid = src.get("grid")
    assert sum(1 for _r, s, *_ in bare if s == "grid") > 0.03 * grid["rows"]
    known = set(true_person.values())
    merged = [(pid, truth[(s, n)]) for _r, s, n, pid, oc in bare if pid is not None]
    rejected = [truth[(s, n)] for _r, s, n, pid, oc in bare if oc == Outcome.REJECTED.value]
    assert len(merged) + len(rejected) == len(bare)
    # A bare row joins a person only on a confident match, and then the right one.
    right = sum(1 for pid, key in merged if true_person.get(pid) == key)
    assert right >= 0.98 * len(merged), (right, len(merged))
    # Most of those whose person is in the registry are found; the rest are rejected.
    findable = len(merged) + sum(1 for key in rejected if key in known)
    assert len(merged) >= 0.9 * findable, (len(merged), findable)
    # A rejected one has the linkage's reason, and is counted as a reject of its file.
    assert sum(codes.values()) == len(rejected) > 0
    assert all(a["rejected"] + a["accepted"] + a["merged"] == a["rows"] for a in accounts.values())


def test_review_of_a_bare_row_attaches_it_or_settles_its_reject(linked) -> None:
    """Runs last in the module: it changes the linked county."""
    db, src, _ = linked
    truth = read_truth(src.dir / "truth.csv")
    with db.engine.begin() as conn:
        true_person = _true_person(conn, truth)
        person_of_key = {key: pid for pid, key in true_person.items()}
        bare = [
            (rid, truth[(s, n)])
            for rid, s, n, pid, oc in _unidentified(conn)
            if oc == Outcome.REJECTED.value
        ]
        findable = [(rid, person_of_key[key]) for rid, key in bare if key in person_of_key]
        assert len(findable) >= 1 and len(bare) >= 2
        rid, pid = findable[0]
        other = next(r for r, _k in bare if r != rid)
        partner = conn.execute(
            select(func.min(SourceRecord.id)).where(SourceRecord.person_id == pid)
        ).scalar_one()
        items = [_pending_item(conn, rid, partner), _pending_item(conn, other, partner)]
        conn.execute(
            update(RowIssue)
            .where(RowIssue.code.in_(LINK_CODES))
            .where(
                tuple_(RowIssue.file_id, RowIssue.row_number).in_(
                    select(SourceRecord.file_id, SourceRecord.row_number).where(
                        SourceRecord.id == other
                    )
                )
            )
            .values(code=IN_REVIEW)
        )
        file_id = conn.execute(
            select(SourceRecord.file_id).where(SourceRecord.id == rid)
        ).scalar_one()
        before = accounting(conn, file_id)
    with db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:  # a trusted local reviewer
        keep, gone = review.accept_merge(session, items[0], "reviewer", now())
        review.reject(session, items[1], "reviewer", now())
    assert (keep, gone) == (pid, None)
    with db.engine.connect() as conn:
        rec = conn.execute(select(SourceRecord).where(SourceRecord.id == rid)).one()
        assert (rec.person_id, rec.outcome) == (pid, Outcome.MERGED.value)
        after = accounting(conn, file_id)
        assert after["rejected"] == before["rejected"] - 1
        assert after["merged"] == before["merged"] + 1
        issue_codes = conn.execute(
            select(RowIssue.code).where(
                tuple_(RowIssue.file_id, RowIssue.row_number).in_(
                    select(SourceRecord.file_id, SourceRecord.row_number).where(
                        SourceRecord.id.in_((rid, other))
                    )
                ),
                RowIssue.severity == "reject",
            )
        ).scalars()
        # The attached row has no reject left; the other is plainly unmatched now.
        assert list(issue_codes) == [NO_MATCH]
        # The person's provenance still names its own records.
        assert (
            conn.execute(
                select(func.count()).where(
                    PersonSource.person_id == pid,
                    PersonSource.name_record_id.in_(
                        select(SourceRecord.id).where(SourceRecord.person_id == pid)
                    ),
                )
            ).scalar_one()
            == 1
        )


def test_relation_batches_read_only_their_own_peoples_relations(linked, tmp_path: Path) -> None:
    """A relations batch looks up the open relations of the people its rows name, not of every
    person the file could name (that made each batch read the whole county's relations), and
    on PostgreSQL with the relations' statistics refreshed after each batch. Rows already
    recorded come out merged onto the same relation."""
    db, src, _ = linked
    s = src.get("property")
    lines = (src.dir / s["file"]).read_text(encoding="utf-8-sig").splitlines()
    subset = tmp_path / "property_owners_again.csv"
    subset.write_text("\n".join(lines[:41]) + "\n", encoding="utf-8")
    reads: list[int] = []
    analyses: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM person_houses" in statement:
            reads.append(len(parameters))
        if statement.startswith("ANALYZE"):
            analyses.append(statement)

    before = _counts(db)
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        result = run_import(  # another source: the same rows of one source are duplicates
            db,
            "property_copy",
            replace(load_mapping(src.dir / s["mapping"]), source=""),
            [subset],
            now=now,
            batch_size=8,
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    acc = result.accounts[subset.name]
    assert acc["rows"] == 40
    assert acc["accepted"] == 0  # every relation of these rows was recorded by the first run
    assert acc["merged"] > 0
    assert reads and max(reads) <= 8  # one batch's people at most
    # PostgreSQL: the relations' statistics refreshed after each of the 5 batches and at the
    # end of the file, so each batch's lookups are planned for the table as it has grown
    postgresql = db.dialect == "postgresql"
    assert analyses.count("ANALYZE person_houses") == (5 + 1 if postgresql else 0)
    after = _counts(db)
    assert after["person_houses"] == before["person_houses"]
    with db.engine.connect() as conn:
        merged = conn.execute(
            select(SourceRecord.target_id, SourceRecord.person_id).where(
                SourceRecord.source == "property_copy",
                SourceRecord.outcome == Outcome.MERGED.value,
            )
        ).all()
        assert len(merged) == acc["merged"]
        for target_id, person_id in merged:
            ph = conn.execute(select(PersonHouse).where(PersonHouse.id == target_id)).one()
            assert ph.person_id == person_id and ph.valid_to is None


def test_a_waiting_item_is_settled_when_a_later_run_joins_its_records(linked) -> None:
    """A bare row (no ID number, no birth date) waits in review against a person's record; a
    later run, with a newer source, links the two confidently: the row joins the person and
    the item is closed as settled instead of waiting for a reviewer whose merge would only be
    refused (both records on one person)."""
    db, _, _ = linked
    with db.engine.begin() as conn:
        people = (SourceRecord.kind == "people",)
        bare = conn.execute(
            select(SourceRecord.id)
            .where(*people, SourceRecord.outcome == Outcome.REJECTED.value)
            .order_by(SourceRecord.id)
            .limit(1)
        ).scalar_one()
        other, pid = conn.execute(
            select(SourceRecord.id, SourceRecord.person_id)
            .where(*people, SourceRecord.person_id.is_not(None))
            .order_by(SourceRecord.id)
            .limit(1)
        ).one()
        a, b = sorted((bare, other))
        item = _pending_item(conn, a, b)
        frame = _load(conn)
    result = LinkResult()
    pairs = Pairs(np.array([a]), np.array([b]), np.array([0.999]), np.array([12.0]))
    with db.engine.begin() as conn:
        _decide(conn, frame, pairs, LinkSettings(), now(), result)
    assert result.review_settled == 1
    with db.engine.connect() as conn:
        got = conn.execute(select(ReviewItem).where(ReviewItem.id == item)).one()
        assert (got.status, got.decided_by, got.merged_into) == (
            ReviewStatus.SETTLED.value,
            "linkage",
            pid,
        )
        rec = conn.execute(select(SourceRecord).where(SourceRecord.id == bare)).one()
        assert (rec.person_id, rec.outcome) == (pid, Outcome.MERGED.value)
        assert not conn.execute(
            select(RowIssue.id).where(
                RowIssue.file_id == rec.file_id,
                RowIssue.row_number == rec.row_number,
                RowIssue.code.in_(LINK_CODES),
            )
        ).first()
        assert accounting(conn, rec.file_id)["pending"] == 0
    # Nothing is left for a reviewer to decide about the pair; a merge of it is refused.
    with db.session(**{SCOPE_KEY: UNRESTRICTED}) as session, pytest.raises(ConflictError):
        review.accept_merge(session, item, "reviewer", now())


def _pending_item(conn: Connection, a: int, b: int) -> int:
    """A review item waiting on records ``a`` and ``b``, as the linkage writes one."""
    a, b = min(a, b), max(a, b)
    return conn.execute(
        insert(ReviewItem)
        .values(
            record_a_id=a,
            record_b_id=b,
            probability=0.9,
            match_weight=3.0,
            status=ReviewStatus.PENDING.value,
            created_at=now(),
            node_id=conn.execute(
                select(SourceRecord.node_id).where(SourceRecord.id == a)
            ).scalar_one(),
        )
        .returning(ReviewItem.id)
    ).scalar_one()


def test_linked_people_maps_numbers_and_unambiguous_name_birth_keys(linked) -> None:
    """The relations' person lookups against a plain reading of the same rows: registry
    numbers, then linked records' numbers; a name key + birth date shared by two people is
    left out."""
    db = linked[0]
    with db.engine.begin() as conn:
        rows = conn.execute(
            select(
                SourceRecord.id,
                SourceRecord.id_number,
                SourceRecord.name_key,
                SourceRecord.birth_date,
                SourceRecord.person_id,
            )
            .where(SourceRecord.kind == "people", SourceRecord.person_id.is_not(None))
            .order_by(SourceRecord.id)
        ).all()
        # Two records of different people given one name key and birth date (rolled back).
        a, b = next(
            (r, s)
            for r, s in itertools.pairwise(rows)
            if r.person_id != s.person_id and r.birth_date and s.birth_date and r.name_key
        )
        conn.execute(
            update(SourceRecord)
            .where(SourceRecord.id == b.id)
            .values(name_key=a.name_key, birth_date=a.birth_date)
        )
        by_number, by_name = linked_people(conn)
        expected_number = dict(
            conn.execute(select(Person.id_number, Person.id).where(Person.id_number != "")).all()
        )
        owners: dict[str, set[int]] = {}
        for r in rows:
            name_key, birth = (
                (a.name_key, a.birth_date) if r.id == b.id else (r.name_key, r.birth_date)
            )
            if r.id_number:
                expected_number[r.id_number] = r.person_id
            if name_key and birth is not None:
                owners.setdefault(name_birth_key(name_key, birth), set()).add(r.person_id)
        conn.rollback()
    assert by_number == expected_number
    assert by_name == {k: min(v) for k, v in owners.items() if len(v) == 1}
    assert name_birth_key(a.name_key, a.birth_date) not in by_name
    assert len(by_name) > 100
