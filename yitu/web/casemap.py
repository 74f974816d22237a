"""Cases on the map and the command panel's figures, plus the citizen page's two public calls.

Staff endpoints (``case.read``; department handlers see only their departments' cases, as in
``/api/v1/cases``) answer aggregates and map points that carry no personal data: number,
category, state, warning level and place; reporter contact never leaves here (the case detail
comes from ``/api/v1/cases/{id}``, masked and audited there).

Citizen endpoints are public: ``POST /citizen/reports`` files a public report (source
``citizen``, no account: ``services.submit_report`` with ``actor=None``) with photos and a
location and answers the case number and its BeiDou grid code; ``GET /citizen/reports/{number}``
follows it with public columns only (state, category, times, grid code), like the Open311 reads.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import numpy as np
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from yitu.access.deps import get_platform, requires, scoped_session
from yitu.access.models import JurisdictionNode
from yitu.access.principal import Principal
from yitu.access.roles import Permission, Role
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.api.problems import problem
from yitu.cases import services
from yitu.cases.config import get_case_settings
from yitu.cases.errors import field_error
from yitu.cases.models import Case, CaseEvent, Category, CategoryKind, Source
from yitu.cases.workflow import OPEN, State
from yitu.core.errors import NotFoundError
from yitu.grid import from_int, vector
from yitu.runtime import Platform
from yitu.web.ratelimit import TokenBuckets
from yitu.web.settings import web_settings

router = APIRouter(tags=["map"])

PlatformDep = Annotated[Platform, Depends(get_platform)]
CaseReader = Annotated[Principal, Depends(requires(Permission.CASE_READ))]

#: Cases shown on the map: every open case, and the ones closed within this many days.
RECENT_DAYS = 7
MAX_POINTS = 5000
#: Kinds a citizen may report (the social-governance kinds concern named people).
PUBLIC_KINDS = (CategoryKind.COMPONENT.value, CategoryKind.EVENT.value)
OPEN_STATES = sorted(s.value for s in OPEN)


def _handler_filter(session: Session, principal: Principal) -> ColumnElement[bool] | None:
    """Department handlers see the cases of their departments only (as ``/api/v1/cases``)."""
    if principal.role == Role.DEPT_HANDLER:
        return Case.department_id.in_(services.handler_departments(session, principal.user_id))
    return None


def _scoped(stmt: Select[Any], session: Session, principal: Principal) -> Select[Any]:
    extra = _handler_filter(session, principal)
    return stmt if extra is None else stmt.where(extra)


def _visible_cases(now: datetime) -> ColumnElement[bool]:
    return or_(Case.state.in_(OPEN_STATES), Case.closed_at >= now - timedelta(days=RECENT_DAYS))


@router.get("/map/cases", summary="Open and recently closed cases as GeoJSON points (no personal "
            "data)")
async def case_points(platform: PlatformDep, principal: CaseReader) -> JSONResponse:
    def work() -> list[dict[str, Any]]:
        now = platform.clock.now()
        with scoped_session(platform, principal) as session:
            stmt = _scoped(select(
                Case.id, Case.number, Case.category_code, Case.state, Case.warning_level,
                Case.urgent, Case.lon, Case.lat,
            ).where(_visible_cases(now)), session, principal)
            rows = session.execute(stmt.order_by(Case.id.desc()).limit(MAX_POINTS)).all()
        return [
            {"type": "Feature", "id": r.id,
             "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
             "properties": {"id": r.id, "number": r.number, "category": r.category_code,
                            "state": r.state, "warning_level": r.warning_level,
                            "urgent": bool(r.urgent)}}
            for r in rows
        ]

    features = await platform.call(work)
    return JSONResponse({"type": "FeatureCollection", "features": features},
                        media_type="application/geo+json")


@router.get("/map/cases/cells", summary="Case counts per BeiDou grid cell (the heat map)")
async def case_cells(
    platform: PlatformDep,
    principal: CaseReader,
    level: Annotated[int, Query(ge=3, le=7, description="BeiDou level of the cells")] = 5,
    days: Annotated[int, Query(ge=1, le=366, description="cases reported in the last N days")]
    = 30,
) -> JSONResponse:
    def work() -> list[dict[str, Any]]:
        since = platform.clock.now() - timedelta(days=days)
        with scoped_session(platform, principal) as session:
            stmt = _scoped(select(Case.code).where(Case.created_at >= since), session, principal)
            codes = np.array(session.scalars(stmt).all(), dtype=np.int64)
        if codes.size == 0:
            return []
        cells, counts = np.unique(vector.int_parent(codes, level), return_counts=True)
        bbox = vector.cells_bbox(vector.decode_int(cells))
        names = np.char.decode(vector.int_to_str(cells), "ascii").tolist()
        return [
            {"type": "Feature",
             "geometry": {"type": "Polygon", "coordinates": [[
                 [w, s], [e, s], [e, n], [w, n], [w, s]]]},
             "properties": {"code": code, "count": int(c)}}
            for code, c, (w, s, e, n) in zip(names, counts, bbox.tolist(), strict=True)
        ]

    features = await platform.call(work)
    return JSONResponse({"type": "FeatureCollection", "features": features},
                        media_type="application/geo+json")


@router.get("/map/cases/summary",
            summary="Command panel figures: today's new, open, overdue, closed; 30-day trend")
async def case_summary(platform: PlatformDep, principal: CaseReader) -> dict[str, Any]:
    tz = ZoneInfo(get_case_settings().timezone)

    def work() -> dict[str, Any]:
        now = platform.clock.now()
        today = now.astimezone(tz).date()
        start = datetime.combine(today - timedelta(days=29), datetime.min.time(), tz)
        with scoped_session(platform, principal) as session:
            open_rows = session.execute(_scoped(
                select(Case.due_at, Case.warning_level).where(Case.state.in_(OPEN_STATES)),
                session, principal)).all()
            created = session.scalars(_scoped(
                select(Case.created_at).where(Case.created_at >= start), session, principal)).all()
            closed = session.scalars(_scoped(
                select(Case.closed_at).where(Case.closed_at >= start), session, principal)).all()

        def day(t: datetime) -> str:
            aware = t if t.tzinfo else t.replace(tzinfo=ZoneInfo("UTC"))
            return aware.astimezone(tz).date().isoformat()

        def aware(t: datetime) -> datetime:
            return t if t.tzinfo else t.replace(tzinfo=ZoneInfo("UTC"))

        new_by_day, closed_by_day = Counter(map(day, created)), Counter(map(day, closed))
        days = [(today - timedelta(days=29 - i)).isoformat() for i in range(30)]
        return {
            "today": today.isoformat(),
            "new_today": new_by_day.get(today.isoformat(), 0),
            "open": len(open_rows),
            "overdue": sum(1 for due, _ in open_rows if due is not None and aware(due) < now),
            "red": sum(1 for _, w in open_rows if w == "red"),
            "yellow": sum(1 for _, w in open_rows if w == "yellow"),
            "closed_today": closed_by_day.get(today.isoformat(), 0),
            "trend": {"days": days, "new": [new_by_day.get(d, 0) for d in days],
                      "closed": [closed_by_day.get(d, 0) for d in days]},
        }

    return await platform.call(work)


# --- the citizen page (public) ---------------------------------------------------------------


def _evidence_dir(platform: Platform) -> Any:
    # the same store as /api/v1/cases (content-addressed files under the data directory)
    return platform.settings.data_dir / "evidence"


@router.get("/citizen/categories", summary="Problem types a citizen may report (public)")
async def citizen_categories(platform: PlatformDep) -> list[dict[str, str]]:
    def work() -> list[dict[str, str]]:
        with platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
            rows = services.list_categories(session)  # the versions in force (valid_to unset)
            return [{"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en or c.name_zh,
                     "major_zh": c.major_name_zh}
                    for c in rows if c.kind in PUBLIC_KINDS]

    return await platform.call(work)


def _public_case(session: Session, case: Case) -> dict[str, Any]:
    category = session.get(Category, case.category_id)
    township = session.get(JurisdictionNode, case.township_id)
    events = session.execute(
        select(CaseEvent.at, CaseEvent.action, CaseEvent.to_state)
        .where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
    ).all()
    return {
        "number": case.number,
        "state": case.state,
        "closed": case.state in (State.CLOSED, State.REJECTED, State.CANCELLED, State.MERGED),
        "category": case.category_code,
        "category_zh": category.name_zh if category else "",
        "category_en": (category.name_en or category.name_zh) if category else "",
        "township": township.name if township else "",
        "grid_code": from_int(int(case.code)),
        "lon": case.lon,
        "lat": case.lat,
        "created_at": case.created_at.isoformat(),
        "updated_at": case.updated_at.isoformat() if case.updated_at else None,
        # the public timeline: what happened and when; notes and actors stay inside
        "timeline": [{"at": at.isoformat(), "action": action, "state": to_state}
                     for at, action, to_state in events],
    }


def _citizen_wait(request: Request) -> int:
    """Seconds this client must wait before its next public report (0: go ahead).

    The buckets live on the app (one set per app and process), built on first use from the
    settings; ``app.state.citizen_limiter = None`` means no limit."""
    state = request.app.state
    if not hasattr(state, "citizen_limiter"):
        cfg = web_settings()
        state.citizen_limiter = (
            TokenBuckets(cfg.citizen_report_per_hour, cfg.citizen_report_burst)
            if cfg.citizen_report_per_hour > 0 else None
        )
    limiter: TokenBuckets | None = state.citizen_limiter
    if limiter is None:
        return 0
    return limiter.take(request.client.host if request.client else "")


@router.post("/citizen/reports", status_code=201,
             summary="A citizen's report with photos and a location (public)")
async def citizen_report(
    request: Request,
    platform: PlatformDep,
    category_code: Annotated[str, Form(min_length=1, max_length=16)],
    lon: Annotated[float, Form()],
    lat: Annotated[float, Form()],
    description: Annotated[str, Form(min_length=1, max_length=4000)],
    address: Annotated[str, Form(max_length=200)] = "",
    reporter_name: Annotated[str, Form(max_length=50)] = "",
    reporter_phone: Annotated[str, Form(max_length=20)] = "",
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> JSONResponse:
    wait = _citizen_wait(request)
    if wait:
        refused = problem(request, 429, "Too many requests",
                          f"too many reports from this address: try again in {wait} s",
                          retry_after=wait)
        refused.headers["Retry-After"] = str(wait)
        return refused
    limit = get_case_settings().max_photo_bytes
    raw = []
    for i, f in enumerate(photos or []):
        data = await f.read(limit + 1)
        if len(data) > limit:
            raise field_error(f"photos[{i}]", f"is larger than {limit} bytes")
        raw.append(data)

    def work() -> dict[str, Any]:
        # a public report has no account and so no scope; submit_report routes it to its
        # grid and township itself
        with platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
            category = session.scalar(select(Category).where(Category.code == category_code))
            if category is not None and category.kind not in PUBLIC_KINDS:
                raise field_error("category_code", "is not a type citizens can report")
            case = services.submit_report(
                session, category_code=category_code, lon=lon, lat=lat,
                description=description, source=Source.CITIZEN.value, address=address,
                reporter={"name": reporter_name, "phone": reporter_phone},
                photos=raw, at=platform.clock.now(), actor=None,
                evidence_dir=_evidence_dir(platform),
            )
            return _public_case(session, case)

    return JSONResponse(await platform.call(work), status_code=201)


@router.get("/citizen/reports/{number}", summary="Follow a case by its number (public)")
async def citizen_follow(number: str, platform: PlatformDep) -> dict[str, Any]:
    if not number.isdigit() or len(number) > 20:
        raise field_error("number", "is a case number: digits only")

    def work() -> dict[str, Any]:
        with platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
            case = session.scalar(select(Case).where(Case.number == number))
            if case is None:
                raise NotFoundError(f"case {number} not found")
            return _public_case(session, case)

    return await platform.call(work)
