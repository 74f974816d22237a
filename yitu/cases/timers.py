"""Deadlines on the county's work calendar (工作时 / 工作日 / 自然时).

* ``natural_hours``: wall-clock hours.
* ``working_hours``: time counted only inside the working periods (default 08:30–12:00 and
  14:30–17:30, local time) of working days: statutory holidays are off, adjusted weekend
  working days (调休上班) are on — the official schedule from ``yitu.core.calendar``.
* ``working_days``: N working days of working time (N × the length of a working day), so a case
  reported at 10:00 on a Monday with 1 working day is due at 10:00 on the next working day, and
  one reported at night is due at the end of the next working day.

A year the State Council has not published yet (``chinesecalendar`` lacks it) falls back to
Monday–Friday; such a deadline is marked provisional (``Deadline.provisional``) so it can be
shown as such, rather than refusing the report.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from yitu.cases.models import TimeUnit
from yitu.core import calendar
from yitu.core.clock import as_utc
from yitu.core.errors import InvalidInputError

_MAX_DAYS = 3 * 366  # no stage runs for years; a bound against a runaway loop


@dataclass(frozen=True)
class Deadline:
    at: datetime  # UTC
    provisional: bool  # crossed a year without a published official calendar


@lru_cache(maxsize=4096)
def _workday(day: date) -> tuple[bool, bool]:
    """(is a working day, known from the official calendar)."""
    try:
        return calendar.is_workday(day), True
    except InvalidInputError:
        return day.weekday() < 5, False


def parse_periods(spec: str) -> tuple[tuple[time, time], ...]:
    """``"08:30-12:00,14:30-17:30"`` → ordered, non-overlapping periods."""
    periods: list[tuple[time, time]] = []
    try:
        for part in spec.split(","):
            a, b = part.strip().split("-")
            start, end = time.fromisoformat(a.strip()), time.fromisoformat(b.strip())
            if end <= start:
                raise ValueError
            periods.append((start, end))
    except ValueError as exc:
        raise InvalidInputError(
            f"work_hours {spec!r} must look like 08:30-12:00,14:30-17:30"
        ) from exc
    periods.sort()
    for (_, e1), (s2, _) in itertools.pairwise(periods):
        if s2 < e1:
            raise InvalidInputError("work_hours periods overlap")
    return tuple(periods)


class WorkCalendar:
    """Working periods in one time zone over the official work calendar."""

    def __init__(self, periods: str = "08:30-12:00,14:30-17:30", tz: str = "Asia/Shanghai"):
        self.periods = parse_periods(periods)
        self.tz = ZoneInfo(tz)
        self.day_length = sum(
            (
                datetime.combine(date.min, e) - datetime.combine(date.min, s)
                for s, e in self.periods
            ),
            timedelta(),
        )

    def _spans(self, day: date) -> list[tuple[datetime, datetime]]:
        return [
            (datetime.combine(day, s, self.tz), datetime.combine(day, e, self.tz))
            for s, e in self.periods
        ]

    def add(self, start: datetime, value: float, unit: str) -> Deadline:
        """The deadline ``value`` ``unit``s after ``start``."""
        if value < 0:
            raise InvalidInputError("time limit value must be zero or more")
        start = as_utc(start)
        if unit == TimeUnit.NATURAL_HOURS:
            return Deadline(start + timedelta(hours=value), False)
        if unit == TimeUnit.WORKING_HOURS:
            need = timedelta(hours=value)
        elif unit == TimeUnit.WORKING_DAYS:
            need = self.day_length * value
        else:
            raise InvalidInputError(f"time unit must be one of: {', '.join(TimeUnit)}")
        return self._add_working(start, need)

    def _add_working(self, start: datetime, need: timedelta) -> Deadline:
        local = start.astimezone(self.tz)
        day = local.date()
        provisional = False
        if need <= timedelta(0):
            return Deadline(start, False)
        for _ in range(_MAX_DAYS):
            work, known = _workday(day)
            provisional |= not known
            if work:
                for s, e in self._spans(day):
                    begin = max(s, local)
                    if begin >= e:
                        continue
                    available = e - begin
                    if need <= available:
                        return Deadline((begin + need).astimezone(UTC), provisional)
                    need -= available
            day += timedelta(days=1)
            local = datetime.combine(day, time.min, self.tz)
        raise InvalidInputError("time limit is too long")

    def working_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time inside [a, b) (zero if b <= a)."""
        a, b = as_utc(a).astimezone(self.tz), as_utc(b).astimezone(self.tz)
        total = timedelta(0)
        day = a.date()
        while day <= b.date():
            if _workday(day)[0]:
                for s, e in self._spans(day):
                    lo, hi = max(s, a), min(e, b)
                    if hi > lo:
                        total += hi - lo
            day += timedelta(days=1)
        return total

    def elapsed_fraction(
        self, start: datetime, due: datetime, now: datetime, unit: str
    ) -> float:
        """How much of the stage's time is used at ``now`` (1.0 = at the deadline)."""
        if unit == TimeUnit.NATURAL_HOURS:
            whole, used = as_utc(due) - as_utc(start), as_utc(now) - as_utc(start)
        else:
            whole, used = self.working_between(start, due), self.working_between(start, now)
        if whole <= timedelta(0):
            return 1.0
        return used / whole


@lru_cache(maxsize=8)
def work_calendar(periods: str, tz: str) -> WorkCalendar:
    return WorkCalendar(periods, tz)


def default_calendar() -> WorkCalendar:
    from yitu.cases.config import get_case_settings

    s = get_case_settings()
    return work_calendar(s.work_hours, s.timezone)


def local_day(at: datetime, tz: str = "Asia/Shanghai") -> date:
    return as_utc(at).astimezone(ZoneInfo(tz)).date()
