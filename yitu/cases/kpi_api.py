"""``GET /api/v1/cases/kpi``: case KPIs (综合评价) by township, department or grid for a period.

KPIs are aggregates (counts and rates, no personal data), computed over the cases inside the
caller's jurisdiction (a township officer sees their township's). Registered in the app before
the case router, so ``/cases/kpi`` is not read as a case id.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request

from yitu.access.deps import requires
from yitu.access.principal import Principal
from yitu.access.roles import Permission
from yitu.cases import kpi
from yitu.cases.config import get_case_settings
from yitu.core.errors import InvalidInputError
from yitu.runtime import Platform

router = APIRouter(prefix="/cases", tags=["cases"])


def parse_bound(value: str, field: str, *, end: bool, tz: str) -> datetime:
    """A date (local midnight; an end date counts its whole day) or an ISO date-time with an
    offset (an end date-time is exclusive)."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time(), ZoneInfo(tz))
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(
            f"{field}: must be a date (2026-11-01) or a date-time with an offset",
            errors=[{"field": field, "message": "not a date or date-time"}],
        ) from None
    if parsed.tzinfo is None:
        raise InvalidInputError(
            f"{field}: a date-time needs an offset (Z or +08:00)",
            errors=[{"field": field, "message": "date-time without an offset"}],
        )
    return parsed


def period(
    start: str | None, end: str | None, now: datetime, tz: str
) -> tuple[datetime, datetime]:
    """Defaults: from the first day of the current month (local) to now."""
    local_now = now.astimezone(ZoneInfo(tz))
    lo = (
        parse_bound(start, "from", end=False, tz=tz)
        if start
        else datetime.combine(local_now.date().replace(day=1), time(), ZoneInfo(tz))
    )
    hi = parse_bound(end, "to", end=True, tz=tz) if end else now
    if hi <= lo:
        raise InvalidInputError(
            "to: must be after from", errors=[{"field": "to", "message": "before from"}]
        )
    if hi - lo > timedelta(days=3 * 366):
        raise InvalidInputError(
            "to: a period spans at most three years",
            errors=[{"field": "to", "message": "period longer than three years"}],
        )
    return lo, hi


@router.get("/kpi", summary="Case KPIs (受理率, 立案率, 按期处置率, 结案率 …) for a period")
async def case_kpi(
    request: Request,
    principal: Annotated[Principal, Depends(requires(Permission.CASE_READ))],
    from_: Annotated[str | None, Query(alias="from", description="date or date-time")] = None,
    to: Annotated[str | None, Query(description="date (inclusive) or date-time")] = None,
    by: Annotated[kpi.By, Query(description="township | department | grid")] = kpi.By.TOWNSHIP,
) -> dict[str, Any]:
    platform: Platform = request.app.state.platform
    start, end = period(from_, to, platform.clock.now(), get_case_settings().timezone)

    def work() -> dict[str, Any]:
        with platform.db.engine.connect() as conn:
            report = kpi.compute(conn, start, end, by, principal.scope)
        return report.as_dict()

    return await platform.call(work)
