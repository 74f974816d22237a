"""Deadlines on the work calendar: working hours, statutory holidays, 调休 working weekends,
natural hours, the provisional fallback past the published calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yitu.cases.timers import WorkCalendar
from yitu.core.errors import InvalidInputError

CAL = WorkCalendar("08:30-12:00,14:30-17:30", "Asia/Shanghai")


def bj(y: int, m: int, d: int, h: int, mi: int = 0) -> datetime:
    """Beijing wall time as UTC."""
    return datetime(y, m, d, h, mi, tzinfo=UTC) - timedelta(hours=8)


def test_working_hours_skip_lunch_night_and_weekend() -> None:
    # Friday 2026-11-27 11:00 + 3 h: 1 h to noon, 2 h from 14:30 -> 16:30
    assert CAL.add(bj(2026, 11, 27, 11), 3, "working_hours").at == bj(2026, 11, 27, 16, 30)
    # Friday 17:00 + 1 h: 0.5 h Friday, then Monday 08:30 + 0.5 h
    assert CAL.add(bj(2026, 11, 27, 17), 1, "working_hours").at == bj(2026, 11, 30, 9)
    # reported at night: the clock starts next working morning
    assert CAL.add(bj(2026, 11, 26, 22), 0.5, "working_hours").at == bj(2026, 11, 27, 9)


def test_statutory_holiday_and_adjusted_working_saturday() -> None:
    # 2026-09-30 16:30 + 2 h: 1 h that day; 1–7 October off; 8 October 08:30 + 1 h
    due = CAL.add(bj(2026, 9, 30, 16, 30), 2, "working_hours")
    assert due.at == bj(2026, 10, 8, 9, 30) and not due.provisional
    # Friday 9 October 10:00 + 1 working day -> Saturday 10 October (调休上班) 10:00
    assert CAL.add(bj(2026, 10, 9, 10), 1, "working_days").at == bj(2026, 10, 10, 10)


def test_natural_hours_are_wall_clock() -> None:
    start = bj(2026, 10, 1, 23)
    assert CAL.add(start, 4, "natural_hours").at == start + timedelta(hours=4)


def test_unpublished_year_falls_back_to_weekdays_and_says_so() -> None:
    due = CAL.add(bj(2026, 12, 31, 17), 1, "working_hours")
    # 2027-01-01 is a Friday: Monday–Friday fallback counts it as a working day
    assert due.provisional
    assert due.at == bj(2027, 1, 1, 9)


def test_bad_units_and_periods() -> None:
    with pytest.raises(InvalidInputError):
        CAL.add(bj(2026, 11, 27, 9), 1, "fortnights")
    with pytest.raises(InvalidInputError):
        WorkCalendar("12:00-08:00")
    with pytest.raises(InvalidInputError):
        WorkCalendar("08:00-12:00,11:00-13:00")


def test_elapsed_fraction_for_warnings() -> None:
    start = bj(2026, 11, 27, 9)
    due = CAL.add(start, 2, "working_hours").at  # 11:00
    assert CAL.elapsed_fraction(start, due, bj(2026, 11, 27, 10), "working_hours") == 0.5


@settings(max_examples=150, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 11, 30)),
    hours=st.floats(min_value=0.01, max_value=200),
)
def test_working_time_between_start_and_due_is_the_limit(start: datetime, hours: float) -> None:
    s = start.replace(tzinfo=UTC)
    due = CAL.add(s, hours, "working_hours").at
    assert due >= s
    got = CAL.working_between(s, due).total_seconds()
    assert abs(got - hours * 3600) < 1e-3
