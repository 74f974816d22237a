"""HTTP API for people. Every response is masked for the caller's role and purpose, and every
read of personal data is written to the audit chain before the response leaves.

Endpoints are async; their database work runs through ``Platform.call`` (inline on SQLite,
in the thread pool on PostgreSQL), except the list read, which runs on the event loop on both
(``_serve_audited``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from yitu.access.deps import (
    BEARER_SECURITY,
    authorize,
    get_platform,
    requires,
    scoped_change,
    scoped_session,
)
from yitu.access.masking import Purpose, Tier, tier_for
from yitu.access.principal import Principal
from yitu.access.roles import Permission
from yitu.api.query import QueryModel
from yitu.audit.chain import Entry
from yitu.core.errors import InvalidInputError
from yitu.people import services
from yitu.people.schemas import (
    FIELDS_BY_TIER,
    BreakGlass,
    PersonCount,
    PersonCreate,
    PersonListQuery,
    PersonOut,
    PersonPage,
    PersonSearch,
    masked_rows,
    page_json,
    person_out,
)
from yitu.runtime import Platform

router = APIRouter(prefix="/people", tags=["people"])
LIST_QUERY = QueryModel(PersonListQuery)


class JSONBytes(Response):
    media_type = "application/json"


PlatformDep = Annotated[Platform, Depends(get_platform)]
T = TypeVar("T")


async def _serve_audited(platform: Platform, work: Callable[[], tuple[T, Entry | None]]) -> T:
    """Run the read ``work`` on the event loop, then group-commit its audit entry
    (``AuditLog.submit_async``) and return only once that record is durable; if it cannot be
    committed, ``AuditUnavailableError`` propagates (a 500 problem) and nothing is served.

    The read runs inline on both databases: one indexed statement, which on PostgreSQL never
    waits on a lock (MVCC) and costs one round trip, as the bare FastAPI peer runs it; a thread
    hop per request cost more CPU (hand-offs, GIL contention with the loop) than the round trip
    it hid. The audit batch, which takes the advisory lock and waits for the WAL flush, is
    written in a worker thread on PostgreSQL (one hop per batch) and inline on SQLite."""
    result, entry = work()
    if entry is not None:
        await platform.audit.submit_async(entry)
    return result


def _today(platform: Platform) -> date:
    return platform.clock.now().date()


NodeQuery = Annotated[str | None, Query(description="jurisdiction code; its whole subtree")]
GenderQuery = Annotated[str | None, Query(pattern="^[MF]$")]
AgeQuery = Annotated[int | None, Query(ge=0, le=150)]


async def _filter(
    node: NodeQuery = None,
    gender: GenderQuery = None,
    age_min: AgeQuery = None,
    age_max: AgeQuery = None,
) -> services.PersonFilter:
    return services.PersonFilter(node=node, gender=gender, age_min=age_min, age_max=age_max)


FilterDep = Annotated[services.PersonFilter, Depends(_filter)]


def _page_limit(request: Request, limit: int | None) -> int:
    settings = request.app.state.platform.settings
    if limit is None:
        return int(settings.default_page_size)
    if limit < 1 or limit > settings.max_page_size:
        raise InvalidInputError(f"limit must be between 1 and {settings.max_page_size}")
    return limit


def _read_entry(
    principal: Principal,
    action: str,
    ids: list[int],
    tier: Tier,
    purpose: Purpose,
    reason: str = "",
    detail: str = "",
) -> Entry:
    return Entry(
        action,
        principal.actor,
        object_type="person",
        object_ids=ids,
        fields=FIELDS_BY_TIER[tier],
        purpose=purpose.value,
        reason=reason,
        detail=detail,
    )


def _audit_read(
    platform: Platform,
    principal: Principal,
    action: str,
    ids: list[int],
    tier: Tier,
    purpose: Purpose,
    reason: str = "",
    detail: str = "",
) -> None:
    platform.audit.submit(_read_entry(principal, action, ids, tier, purpose, reason, detail))


@router.get(
    "",
    response_model=PersonPage,
    summary="List people in your jurisdiction (masked L1)",
    openapi_extra={**LIST_QUERY.openapi_extra, "security": BEARER_SECURITY},
)
async def list_people(request: Request) -> PersonPage:
    # The hot read: the caller authorised in the body (``authorize``, the same check as
    # ``requires``), query parameters validated in one call (``QueryModel``), platform from app
    # state; every FastAPI parameter or dependency level costs per-request work.
    principal = await authorize(request, Permission.PERSON_LIST)
    q = LIST_QUERY.parse(request)
    platform: Platform = request.app.state.platform
    f = services.PersonFilter(node=q.node, gender=q.gender, age_min=q.age_min, age_max=q.age_max)
    tier = tier_for(principal.role, Purpose.LIST)
    page_size = _page_limit(request, q.limit)

    def work() -> tuple[bytes, Entry | None]:
        # The read, then its audit entry; the body leaves only after that entry is committed
        # (group commit with concurrent reads, see ``_serve_audited``).
        today = _today(platform)
        with platform.db.read_engine.connect() as conn:  # one statement: no transaction needed
            rows, next_cursor = services.list_people(
                conn, principal, f, today, sort=q.sort, cursor=q.cursor, limit=page_size
            )
        body = page_json(masked_rows(rows, tier, today), next_cursor)
        ids = [row[0] for row in rows]
        return body, (_read_entry(principal, "view", ids, tier, Purpose.LIST) if ids else None)

    return JSONBytes(await _serve_audited(platform, work))  # type: ignore[return-value]


@router.get("/count", response_model=PersonCount, summary="Count people in your jurisdiction")
async def count_people(
    platform: PlatformDep,
    f: FilterDep,
    principal: Annotated[Principal, Depends(requires(Permission.PERSON_LIST))],
) -> PersonCount:
    def work() -> PersonCount:
        with scoped_session(platform, principal) as session:
            return PersonCount(count=services.count_people(session, principal, f, _today(platform)))

    return await platform.call(work)


@router.get("/export.csv", summary="Export people in your jurisdiction as CSV (masked L1)")
async def export_people(
    platform: PlatformDep,
    f: FilterDep,
    principal: Annotated[Principal, Depends(requires(Permission.PERSON_EXPORT))],
) -> Response:
    tier = tier_for(principal.role, Purpose.LIST)  # §C5: exports follow L1

    def work() -> str:
        today = _today(platform)
        with platform.db.engine.connect() as conn:
            rows, _ = services.list_people(
                conn, principal, f, today, limit=platform.settings.max_page_size * 50
            )
        out = io.StringIO()
        columns = ["id", "node_id", "name", "id_number", "phone", "address", "gender", "age"]
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for p in rows:
            writer.writerow(person_out(p, tier, today).model_dump())
        platform.audit.record(
            Entry(
                "export",
                principal.actor,
                object_type="person",
                object_ids=[p.id for p in rows],
                fields=FIELDS_BY_TIER[tier],
                purpose=Purpose.LIST.value,
                detail=f"{len(rows)} rows csv",
            )
        )
        return out.getvalue()

    return Response(
        await platform.call(work),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="people.csv"'},
    )


@router.post(
    "/search", response_model=PersonPage, summary="Exact lookup by ID number, phone or name"
)
async def search_people(
    platform: PlatformDep,
    body: PersonSearch,
    principal: Annotated[Principal, Depends(requires(Permission.PERSON_SEARCH))],
) -> PersonPage:
    tier = tier_for(principal.role, Purpose.LIST)

    def work() -> PersonPage:
        with scoped_session(platform, principal) as session:
            rows, by = services.search_people(
                session,
                id_number=body.id_number,
                phone=body.phone,
                name=body.name,
                limit=body.limit,
            )
        # The searched value is personal data: the log records which key was used, not its value.
        _audit_read(
            platform,
            principal,
            "search",
            [p.id for p in rows],
            tier,
            Purpose.LIST,
            detail=f"by {by}",
        )
        today = _today(platform)
        return PersonPage(items=[person_out(p, tier, today) for p in rows], next_cursor=None)

    return await platform.call(work)


async def _read_one(
    platform: Platform, principal: Principal, person_id: int, purpose: Purpose, reason: str = ""
) -> PersonOut:
    """One person at the tier the purpose gives the caller's role, audited before it leaves."""
    tier = tier_for(principal.role, purpose)
    action = "break_glass" if purpose == Purpose.BREAK_GLASS else "view"

    def work() -> PersonOut:
        with scoped_session(platform, principal) as session:
            person = services.get_person(session, person_id)
        _audit_read(platform, principal, action, [person.id], tier, purpose, reason=reason)
        return person_out(person, tier, _today(platform))

    return await platform.call(work)


@router.get("/{person_id}", response_model=PersonOut, summary="One person (masked L2, audited)")
async def get_person(
    person_id: int,
    platform: PlatformDep,
    principal: Annotated[Principal, Depends(requires(Permission.PERSON_DETAIL))],
) -> PersonOut:
    return await _read_one(platform, principal, person_id, Purpose.DETAIL)


@router.post(
    "/{person_id}/break-glass",
    response_model=PersonOut,
    summary="One person in full (L3): a reason is required and audited",
)
async def break_glass(
    person_id: int,
    body: BreakGlass,
    platform: PlatformDep,
    principal: Annotated[Principal, Depends(requires(Permission.PERSON_BREAK_GLASS))],
) -> PersonOut:
    return await _read_one(platform, principal, person_id, Purpose.BREAK_GLASS, body.reason)


@router.post("", response_model=PersonOut, status_code=201, summary="Register a person")
async def create_person(
    body: PersonCreate,
    platform: PlatformDep,
    principal: Annotated[Principal, Depends(requires(Permission.PERSON_WRITE))],
) -> PersonOut:
    tier = tier_for(principal.role, Purpose.DETAIL)

    def work() -> PersonOut:
        with scoped_change(platform, principal) as change:  # the person and its record, or neither
            person = services.create_person(
                change.session,
                principal,
                platform.clock,
                name=body.name,
                id_number=body.id_number,
                phone=body.phone,
                address=body.address,
                node_code=body.node_code,
            )
            change.record(
                Entry(
                    "create",
                    principal.actor,
                    object_type="person",
                    object_ids=[person.id],
                    fields=["name", "id_number", "phone", "address"],
                    purpose="register",
                )
            )
        return person_out(person, tier, _today(platform))

    return await platform.call(work)
