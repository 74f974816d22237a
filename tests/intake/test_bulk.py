"""Bulk writes of the import and linkage (``yitu.intake.bulk``): reserved ids follow the ids
already taken and are never handed out twice, rows written with them keep the columns'
defaults (PostgreSQL's COPY applies none of SQLAlchemy's), and later ordinary inserts go on
after them; a bulk update sets the rows it names and nothing else, and is part of its
transaction. Real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Connection, func, insert, select, text

from yitu.core.db import Database
from yitu.intake.bulk import (
    bulk_insert,
    bulk_page_cache,
    bulk_update,
    refresh_statistics,
    reserve_ids,
)
from yitu.people.models import Person


def _person(name: str, node_id: int, number: str) -> dict[str, object]:
    return {
        "name": name,
        "id_number": number,
        "gender": "F",
        "birth_date": date(1950, 3, 1),
        "node_id": node_id,
        "created_at": datetime(2026, 11, 27, tzinfo=UTC),
    }


def test_reserved_ids_bulk_rows_keep_defaults_and_inserts_go_on_after(demo_db: Database) -> None:
    table = Person.__table__
    with demo_db.engine.begin() as conn:
        node = conn.execute(select(Person.node_id).limit(1)).scalar_one()
        top = conn.execute(select(func.max(Person.id))).scalar_one()
        conn.execute(insert(table).values(**_person("甲", node, "")))  # holds the write lock
        first = reserve_ids(conn, table, 3)
        second = reserve_ids(conn, table, 2) if conn.dialect.name == "postgresql" else []
        assert len(set(first + second)) == len(first + second)
        assert min(first) > top
        rows = [_person(n, node, "") for n in ("乙", "丙", "丁")]
        for row, id_ in zip(rows, first, strict=True):
            row["id"] = id_
        bulk_insert(conn, table, rows)
        after = conn.execute(insert(table).values(**_person("戊", node, "")).returning(Person.id))
        later = after.scalar_one()
        assert later > max(first + second)
        stored = conn.execute(
            select(Person.id, Person.name, Person.ethnicity, Person.registration_type)
            .where(Person.id.in_(first))
            .order_by(Person.id)
        ).all()
        assert [tuple(r) for r in stored] == [
            (first[0], "乙", "汉族", "hukou"),
            (first[1], "丙", "汉族", "hukou"),
            (first[2], "丁", "汉族", "hukou"),
        ]
        assert reserve_ids(conn, table, 0) == []
        conn.rollback()


def test_bulk_update_sets_the_named_rows_only_and_rolls_back(demo_db: Database) -> None:
    table = Person.__table__
    with demo_db.engine.connect() as conn:
        ids = conn.execute(select(Person.id).order_by(Person.id).limit(4)).scalars().all()
        before = dict(conn.execute(select(Person.id, Person.phone).where(Person.id.in_(ids))).all())
    rows = [("13800000001", "", ids[0]), ("13800000002", "floating", ids[2])]
    with demo_db.engine.begin() as conn:
        bulk_update(conn, table, "id", ("phone", "registration_type"), iter(rows))
        got = {
            r.id: (r.phone, r.registration_type)
            for r in conn.execute(
                select(Person.id, Person.phone, Person.registration_type).where(Person.id.in_(ids))
            )
        }
        assert got[ids[0]] == ("13800000001", "")
        assert got[ids[2]] == ("13800000002", "floating")
        assert got[ids[1]][0] == before[ids[1]] and got[ids[3]][0] == before[ids[3]]
        bulk_update(conn, table, "id", ("phone",), iter([("13800000003", ids[1])]))  # again
        assert conn.execute(select(Person.phone).where(Person.id == ids[1])).scalar() == (
            "13800000003"
        )
        conn.rollback()
    with demo_db.engine.connect() as conn:
        after = dict(conn.execute(select(Person.id, Person.phone).where(Person.id.in_(ids))).all())
    assert after == before  # nothing of a rolled-back transaction stays


def test_refresh_statistics_analyses_on_postgresql_and_writes_nothing_on_sqlite(
    demo_db: Database,
) -> None:
    table = Person.__table__
    count = text(
        "SELECT analyze_count + autoanalyze_count FROM pg_stat_user_tables WHERE relname = 'people'"
    )
    postgresql = demo_db.dialect == "postgresql"
    with demo_db.engine.connect() as conn:
        before = conn.execute(count).scalar_one() if postgresql else 0
    with demo_db.engine.begin() as conn:
        refresh_statistics(conn, [table])
    with demo_db.engine.connect() as conn:
        if postgresql:
            assert conn.execute(count).scalar_one() == before + 1
        else:
            stats = conn.execute(
                text("SELECT count(*) FROM sqlite_master WHERE name LIKE 'sqlite_stat%'")
            ).scalar_one()
            assert stats == 0  # SQLite keeps planning without statistics


def _cache_size(conn: Connection) -> int:
    size = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    conn.commit()
    return int(size)


def test_bulk_page_cache_holds_across_transactions_and_is_restored(demo_db: Database) -> None:
    with demo_db.engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            with bulk_page_cache(conn, mib=64):
                assert not conn.in_transaction()  # PostgreSQL: nothing set, nothing left open
            return
        before = _cache_size(conn)
        with bulk_page_cache(conn, mib=64):
            assert not conn.in_transaction()
            for _ in range(2):  # each batch its own transaction on the same connection
                with conn.begin():
                    conn.execute(select(func.count()).select_from(Person.__table__))
                assert _cache_size(conn) == -64 * 1024
        assert _cache_size(conn) == before
        assert not conn.in_transaction()


def test_bulk_page_cache_is_restored_and_the_batch_rolled_back_on_error(
    demo_db: Database,
) -> None:
    with demo_db.engine.connect() as conn:
        people = conn.execute(select(func.count()).select_from(Person.__table__)).scalar_one()
        conn.commit()
        before = _cache_size(conn) if conn.dialect.name == "sqlite" else None
        node = conn.execute(select(Person.node_id).limit(1)).scalar_one()
        conn.commit()
        try:
            with bulk_page_cache(conn, mib=64):
                conn.execute(insert(Person.__table__).values(**_person("戊", node, "")))
                raise RuntimeError("crash inside the batch")
        except RuntimeError:
            pass
        assert not conn.in_transaction()
        if before is not None:
            assert _cache_size(conn) == before
        assert (
            conn.execute(select(func.count()).select_from(Person.__table__)).scalar_one() == people
        )
