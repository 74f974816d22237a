"""The intake migrations on a database that already holds imported records. ``0005_intake_row_key``:
each record gets the key its hash gives, the unique key moves to it, and the records keep the
rows that reference them (SQLite rebuilds the table). ``0007_intake_name_keys``: stored pinyin
keys are computed again. SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from alembic import command
from foundation.conftest import DatabaseFactory
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import IntegrityError

from yitu.core.migrate import alembic_config, upgrade
from yitu.intake.clean.names import name_key
from yitu.intake.models import row_key

RECORD_COLUMNS = (
    "id, file_id, batch_id, source, kind, row_number, row_hash, name, name_key, id_number, "
    "id_digits, phone, gender, address, relation, house_use, credit_code, org_name, org_kind, "
    "outcome, node_id"
)


def _record(rid: int, row_hash: str, node: int) -> dict[str, object]:
    return {"id": rid, "hash": row_hash, "node": node, "n": rid}


def _file_and_batch(conn: Connection, now: datetime) -> int:
    """An imported file with one batch; the county's first node."""
    conn.execute(
        text(
            "INSERT INTO intake_files (id, source, kind, file_name, file_hash, "
            "mapping_hash, rows_total, batch_size, complete, started_at) VALUES "
            "(1, 'police', 'people', 'p.csv', 'f', 'm', 3, 10, true, :now)"
        ),
        {"now": now},
    )
    conn.execute(
        text(
            "INSERT INTO intake_batches (id, file_id, seq, row_start, rows, stored, "
            "duplicates, rejected, committed_at) VALUES (1, 1, 0, 1, 3, 3, 0, 0, :now)"
        ),
        {"now": now},
    )
    return int(conn.execute(text("SELECT min(id) FROM jurisdiction_nodes")).scalar_one())


def test_row_key_migration_keeps_records_and_their_references(databases: DatabaseFactory) -> None:
    url = databases.fresh()
    command.downgrade(alembic_config(url), "0004_intake_lean_indexes")
    hashes = [hashlib.sha256(f"row {i}".encode()).hexdigest() for i in range(3)]
    now = datetime(2026, 11, 27, tzinfo=UTC)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            node = _file_and_batch(conn, now)
            conn.execute(
                text(
                    f"INSERT INTO intake_records ({RECORD_COLUMNS}) VALUES (:id, 1, 1, 'police', "
                    "'people', :n, :hash, '', '', '', '', '', '', '', '', '', '', '', '', "
                    "'pending', :node)"
                ),
                [_record(i + 1, h, node) for i, h in enumerate(hashes)],
            )
            conn.execute(
                text(
                    "INSERT INTO intake_reviews (record_a_id, record_b_id, probability, "
                    "match_weight, status, created_at, decided_by, node_id) VALUES "
                    "(1, 2, 0.9, 3.0, 'pending', :now, '', :node)"
                ),
                {"now": now, "node": node},
            )
        upgrade(url)
        with engine.connect() as conn:
            keys = dict(conn.execute(text("SELECT row_hash, row_key FROM intake_records")).all())
            review = conn.execute(text("SELECT record_a_id, record_b_id FROM intake_reviews")).one()
        assert keys == {h: row_key(h) for h in hashes}
        assert tuple(review) == (1, 2)
        # the unique key is the 64-bit one now: another hash with the same key is refused
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO intake_records ({RECORD_COLUMNS}, row_key) VALUES (:id, 1, 1, "
                    "'police', 'people', :n, :hash, '', '', '', '', '', '', '', '', '', '', '', "
                    "'', 'pending', :node, :key)"
                ),
                {**_record(9, "0" * 64, node), "key": row_key(hashes[0])},
            )
    finally:
        engine.dispose()


def test_name_key_migration_computes_stored_keys_again(databases: DatabaseFactory) -> None:
    url = databases.fresh()
    command.downgrade(alembic_config(url), "0006_intake_no_kind_index")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            node = _file_and_batch(conn, datetime(2026, 11, 27, tzinfo=UTC))
            stored = ((1, "张伟", "stale"), (2, "李朝阳", name_key("李朝阳")), (3, "", ""))
            for rid, name, key in stored:
                conn.execute(
                    text(
                        f"INSERT INTO intake_records ({RECORD_COLUMNS}, row_key) VALUES (:id, 1, "
                        "1, 'police', 'people', :n, :hash, :name, :key, '', '', '', '', '', '', "
                        "'', '', '', '', 'pending', :node, :n)"
                    ),
                    {**_record(rid, f"{rid:064x}", node), "name": name, "key": key},
                )
        upgrade(url)
        with engine.connect() as conn:
            keys = dict(conn.execute(text("SELECT id, name_key FROM intake_records")).all())
    finally:
        engine.dispose()
    assert keys == {1: "zhangwei", 2: name_key("李朝阳"), 3: ""}
