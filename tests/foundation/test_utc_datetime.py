"""UtcDateTime: a point in time compares the same on SQLite and PostgreSQL whatever its offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from yitu.core.db import UtcDateTime, make_engine

CST = timezone(timedelta(hours=8))


@pytest.fixture
def stamps(db_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    table = Table("utc_probe", MetaData(), Column("id", Integer, primary_key=True),
                  Column("at", UtcDateTime()))
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(insert(table), [
            {"id": 1, "at": datetime(2026, 3, 1, 9, 0, tzinfo=CST)},  # 01:00 UTC
            {"id": 2, "at": datetime(2026, 3, 1, 2, 0, tzinfo=UTC)},
            {"id": 3, "at": datetime(2026, 3, 1, 3, 0)},  # naive: taken as UTC
        ])
    yield engine, table
    engine.dispose()


def test_values_read_back_aware_in_utc(stamps) -> None:  # type: ignore[no-untyped-def]
    engine, table = stamps
    with engine.connect() as conn:
        rows = dict(conn.execute(select(table.c.id, table.c.at)).all())
    assert rows[1] == datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    assert rows[1].utcoffset() == timedelta(0)
    assert rows[3] == datetime(2026, 3, 1, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("bound", "expected"),
    [
        # 10:30+08:00 is 02:30 UTC: after row 2 (02:00 UTC), before row 3 (03:00 UTC).
        (datetime(2026, 3, 1, 10, 30, tzinfo=CST), [1, 2]),
        (datetime(2026, 3, 1, 2, 30, tzinfo=UTC), [1, 2]),
        (datetime(2026, 2, 28, 20, 30, tzinfo=timezone(timedelta(hours=-6))), [1, 2]),
        (datetime(2026, 3, 1, 8, 59, tzinfo=CST), []),
    ],
)
def test_comparisons_use_the_instant_not_the_wall_clock(stamps, bound, expected) -> None:  # type: ignore[no-untyped-def]
    engine, table = stamps
    with engine.connect() as conn:
        got = conn.scalars(select(table.c.id).where(table.c.at <= bound).order_by(table.c.id)).all()
    assert got == expected


def test_a_value_that_is_not_a_datetime_is_refused(stamps) -> None:  # type: ignore[no-untyped-def]
    engine, table = stamps
    with pytest.raises(Exception, match="expected a datetime, got str"), engine.begin() as conn:
        conn.execute(insert(table), {"id": 9, "at": "2026-03-01 09:00"})
