"""Work calendar: statutory holidays and adjusted working weekends (调休)."""

from __future__ import annotations

from datetime import date

import pytest

from yitu.core.calendar import add_workdays, is_workday, workdays_between
from yitu.core.errors import InvalidInputError


def test_holidays_and_adjusted_weekends() -> None:
    assert not is_workday(date(2026, 10, 1))  # 国庆节
    assert is_workday(date(2026, 10, 10))  # a Saturday worked to make up the holiday
    assert is_workday(date(2026, 2, 14))  # Saturday before 春节, worked
    assert not is_workday(date(2026, 2, 16))  # Monday inside 春节
    assert is_workday(date(2026, 11, 26)) and not is_workday(date(2026, 11, 29))


def test_add_workdays_skips_the_national_day_week() -> None:
    # 2026-09-30 (Wed) + 1 working day lands after the 国庆 holiday week.
    nxt = add_workdays(date(2026, 9, 30), 1)
    assert nxt > date(2026, 10, 7) and is_workday(nxt)
    assert add_workdays(date(2026, 11, 26), 0) == date(2026, 11, 26)
    assert add_workdays(date(2026, 11, 27), 1) == date(2026, 11, 30)  # Fri + 1 → Mon


def test_workdays_between() -> None:
    assert workdays_between(date(2026, 11, 23), date(2026, 11, 29)) == 4  # Tue–Fri
    with pytest.raises(InvalidInputError):
        workdays_between(date(2026, 11, 29), date(2026, 11, 23))


def test_year_without_a_published_schedule_is_a_clear_error() -> None:
    with pytest.raises(InvalidInputError, match="no official work calendar for 2099"):
        is_workday(date(2099, 1, 5))
