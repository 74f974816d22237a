"""Work calendar (工作日历): statutory holidays and adjusted working days (调休).

Deadlines in governance workflows run in working days, not wall-clock days (see the governance
domain notes §1.5). The official schedule comes from the ``chinesecalendar`` package, which covers
the years the State Council has published.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar

from yitu.core.errors import InvalidInputError


def is_workday(day: date) -> bool:
    """True on a working day, including an adjusted Saturday or Sunday (调休上班)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError as exc:  # the package's signal for an unpublished year
        raise InvalidInputError(f"no official work calendar for {day.year} yet") from exc


def add_workdays(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
    if days < 0:
        raise InvalidInputError("days must be zero or more")
    current = start
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if is_workday(current):
            remaining -= 1
    return current


def workdays_between(start: date, end: date) -> int:
    """Working days in the half-open interval (start, end]."""
    if end < start:
        raise InvalidInputError("end is before start")
    return sum(1 for n in range(1, (end - start).days + 1) if is_workday(start + timedelta(days=n)))
