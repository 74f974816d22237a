"""Open311 GeoReport v2 façade at ``/open311/v2/`` (http://wiki.open311.org/GeoReport_v2):
existing 311 clients file and follow city-management reports without knowing yitu.

* a **service** is a current category of kind 部件 (component) or 事件 (event);
  social-governance types (矛盾纠纷, 特殊人群 …) concern named people and are not offered;
* a **service request** is a case; ``service_request_id`` is the case number; services are
  ``realtime`` (the case exists when the POST answers); a client whose key was issued for the
  batch flow (``--batch``) gets a ``token`` instead and resolves it at ``tokens/{token}``;
* ``status`` is ``open`` until 结案 and ``closed`` from then on, also for 不予受理/作废/合并, with
  the workflow state in ``status_notes``; ``agency_responsible`` is the department the case is
  dispatched to; ``expected_datetime`` the disposal deadline (处置时限 on the work calendar);
* POST needs an ``api_key`` issued by the operations centre (``yitu cases open311-key issue``);
  reporter contact (name, email, phone) goes into the case's personal-data fields, which no
  Open311 answer ever contains; phone and ID numbers typed into a description are masked on the
  way out;
* errors come in the spec's shape (``errors/error/{code, description}``) with 400 / 403 / 404.

Reads are public (no key) and go through a trusted session that selects only public columns of
component and event cases, so no jurisdiction scope applies; writes run the normal
``services.submit_report`` (routing, duplicates, timers, event log, notifications).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from yitu.access.masking import Tier, mask_id_number, mask_phone
from yitu.access.models import JurisdictionNode
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.audit.chain import Actor, Entry
from yitu.cases import catalog, services
from yitu.cases.models import Case, Category, CategoryKind, Department, Source
from yitu.cases.open311_format import (
    FORMATS,
    Open311Error,
    error_response,
    parse_w3,
    render,
    w3,
)
from yitu.cases.open311_models import Open311Key, Open311Request
from yitu.cases.workflow import State
from yitu.core.clock import as_utc
from yitu.core.errors import YituError
from yitu.core.logs import ID_NUMBER_RE, MOBILE_RE
from yitu.registry.models import Address, Building
from yitu.runtime import Platform

log = logging.getLogger(__name__)
PREFIX = "/open311/v2"
SPEC = "http://wiki.open311.org/GeoReport_v2"
JURISDICTION_IDS = frozenset({"laohekou.gov.cn", "420682"})  # 老河口市: site and division code
ZIPCODE = "441800"
PUBLIC_KINDS = (CategoryKind.COMPONENT.value, CategoryKind.EVENT.value)
WINDOW = timedelta(days=90)  # spec: default and largest span of GET requests
MAX_REQUESTS = 1000  # spec: "first 1000 requests"
MAX_DESCRIPTION = 4000  # spec: description limited to 4,000 characters
CLOSED_STATES = frozenset({State.CLOSED, State.REJECTED, State.CANCELLED, State.MERGED})
STATUS_NOTES = {
    State.REPORTED: "已上报，待受理 (reported, awaiting acceptance)",
    State.ACCEPTED: "已受理，待现场核实 (accepted, awaiting on-site verification)",
    State.VERIFIED: "已核实，待立案 (verified, awaiting registration)",
    State.REGISTERED: "已立案，待派遣 (registered, awaiting dispatch)",
    State.DISPATCHED: "已派遣至处置部门 (dispatched to the responsible department)",
    State.HANDLING: "处置中 (being handled)",
    State.HANDLED: "已处置，待核查 (handled, awaiting on-site check)",
    State.CHECKED: "核查通过，待结案 (check passed, awaiting closure)",
    State.CLOSED: "已结案 (resolved and closed)",
    State.RETURNED: "回退，待重新派遣 (returned, awaiting re-dispatch)",
    State.SUSPENDED: "缓办 (deferred with the operations centre's approval)",
    State.REJECTED: "不予受理/不予立案 (not a city-management matter or not confirmed on site)",
    State.CANCELLED: "已作废 (cancelled)",
    State.MERGED: "与已有案件合并 (duplicate of an earlier report)",
}
_HTML = re.compile(r"<\s*[A-Za-z!/]")
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")


class Open311Route(APIRoute):
    """Every failure on these routes answers in the spec's error format, in the requested
    format: Open311 clients cannot read problem+json."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            fmt = request.path_params.get("fmt", "xml")
            try:
                return await handler(request)
            except Open311Error as exc:
                return error_response(fmt, exc)
            except RequestValidationError as exc:
                fields = ", ".join(str(e["loc"][-1]) for e in exc.errors())
                return error_response(fmt, Open311Error(400, f"invalid argument: {fields}"))
            except YituError as exc:
                status = {401: 403, 403: 403, 404: 404}.get(exc.status, 400)
                return error_response(fmt, Open311Error(status, exc.detail))
            except Exception as exc:  # a fault of ours: still in a shape the client can read
                log.error("unhandled %s on %s", type(exc).__name__, request.url.path)
                return error_response(
                    fmt, Open311Error(500, "the server failed; quote the X-Request-ID")
                )

        return route


router = APIRouter(prefix=PREFIX, tags=["open311"], route_class=Open311Route)


# --- API keys ---------------------------------------------------------------------------------


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(
    session: Session, client: str, issued_by: str, at: datetime, *, batch: bool = False
) -> str:
    """A new key for ``client`` (shown once; only its hash is kept). ``batch``: its POSTs are
    answered with a token instead of the service_request_id (the spec's batch flow)."""
    client = client.strip()
    if not client or len(client) > 100:
        raise YituError("client must be 1 to 100 characters")
    if session.scalar(select(Open311Key.id).where(Open311Key.client == client)) is not None:
        raise YituError(f"client {client!r} already has a key; revoke it first")
    key = secrets.token_urlsafe(32)
    session.add(
        Open311Key(
            client=client,
            key_hash=_hash(key),
            mode="batch" if batch else "realtime",
            issued_by=issued_by,
            created_at=at,
        )
    )
    session.flush()
    return key


def revoke_key(session: Session, client: str, at: datetime) -> None:
    row = session.scalar(
        select(Open311Key).where(Open311Key.client == client, Open311Key.revoked_at.is_(None))
    )
    if row is None:
        raise YituError(f"no active key for client {client!r}")
    row.revoked_at = at
    # A revoked client may be issued a new key under the same name later.
    row.client = f"{client} (revoked {at:%Y%m%d%H%M%S})"[:100]


def check_key(session: Session, key: str | None, at: datetime) -> Open311Key:
    if not key:
        raise Open311Error(403, "api_key is required to create a service request")
    row = session.scalar(select(Open311Key).where(Open311Key.key_hash == _hash(key)))
    if row is None or row.revoked_at is not None:
        raise Open311Error(403, "invalid api_key -- can't proceed with create_request")
    # Written at most once a minute: a busy client must not turn every report into two writes.
    if row.last_used_at is None or at - as_utc(row.last_used_at) > timedelta(minutes=1):
        row.last_used_at = at
    return row


# --- helpers ----------------------------------------------------------------------------------


def _platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, f"unknown format .{fmt}: use .xml or .json")
    return fmt


def _jurisdiction(value: str | None) -> None:
    # One jurisdiction per endpoint: the argument is optional, but a wrong one is an error.
    if value and value.strip() not in JURISDICTION_IDS:
        raise Open311Error(404, "jurisdiction_id not found: this endpoint serves laohekou.gov.cn")


def _arg(value: str | None) -> str | None:
    """Spec: an empty optional argument is the same as an absent one."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def _trusted(platform: Platform) -> Any:
    return platform.db.session(**{SCOPE_KEY: UNRESTRICTED})


def mask_text(text: str) -> str:
    """Mobile and ID numbers typed into free text, masked as in lists (L1)."""
    text = ID_NUMBER_RE.sub(lambda m: mask_id_number(m.group(0), Tier.L1) or "", text)
    return MOBILE_RE.sub(lambda m: mask_phone(m.group(0), Tier.L1) or "", text)


def _public_categories(session: Session, at: datetime | None = None) -> list[Category]:
    return [c for c in catalog.list_categories(session, at) if c.kind in PUBLIC_KINDS]


def _service_category(session: Session, code: str) -> Category:
    try:
        category = catalog.current_category(session, code)
    except YituError:
        category = None
    if category is None or category.kind not in PUBLIC_KINDS:
        raise Open311Error(404, f"service_code {code} not found")
    return category


# --- service list and definitions -------------------------------------------------------------


def attributes_of(category: Category) -> list[dict[str, Any]]:
    """The service definition's attributes: a component (部件) case may name the component by
    its 16-digit 部件标识码, which routes it to the component's owner or maintainer."""
    if category.kind != CategoryKind.COMPONENT.value:
        return []
    return [
        {
            "variable": True,
            "code": "component_code",
            "datatype": "string",
            "required": False,
            "datatype_description": "16 位部件标识码 (16 digits, on the component's plate)",
            "order": 1,
            "description": "部件标识码 (component ID), if the plate can be read",
            "values": [],
        }
    ]


def service_of(category: Category) -> dict[str, Any]:
    kind = "部件" if category.kind == CategoryKind.COMPONENT.value else "事件"
    keywords = [category.name_zh, category.major_name_zh, kind]
    if category.name_en:
        keywords.append(category.name_en)
    description = category.filing_condition or category.name_zh
    return {
        "service_code": category.code,
        "service_name": category.name_zh,
        "description": description,
        "metadata": bool(attributes_of(category)),
        "type": "realtime",
        "keywords": ", ".join(keywords),
        "group": category.major_name_zh,
    }


@router.get("/discovery.{fmt}", summary="Open311 service discovery")
async def discovery(request: Request, fmt: str) -> Response:
    fmt = _fmt(fmt)
    base = str(request.base_url).rstrip("/") + PREFIX
    changeset = "2026-11-26T00:00:00+08:00"
    data = {
        "changeset": changeset,
        "contact": "老河口市城市运行管理服务中心 (Laohekou city operations centre), 12345",
        "key_service": "api_key: issued by the operations centre (yitu cases open311-key issue)",
        "endpoints": [
            {
                "specification": SPEC,
                "url": base,
                "changeset": changeset,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return render(fmt, "discovery", data)


@router.get("/services.{fmt}", summary="Open311 service list (categories)")
async def service_list(request: Request, fmt: str, jurisdiction_id: str | None = None) -> Response:
    fmt = _fmt(fmt)
    _jurisdiction(jurisdiction_id)
    platform = _platform(request)

    def work() -> list[dict[str, Any]]:
        with _trusted(platform) as session:
            return [service_of(c) for c in _public_categories(session)]

    return render(fmt, "services", await platform.call(work))


@router.get("/services/{service_code}.{fmt}", summary="Open311 service definition")
async def service_definition(
    request: Request, service_code: str, fmt: str, jurisdiction_id: str | None = None
) -> Response:
    fmt = _fmt(fmt)
    _jurisdiction(jurisdiction_id)
    platform = _platform(request)

    def work() -> dict[str, Any]:
        with _trusted(platform) as session:
            category = _service_category(session, service_code)
            return {"service_code": category.code, "attributes": attributes_of(category)}

    return render(fmt, "service_definition", await platform.call(work))


# --- POST a service request ---------------------------------------------------------------------


def _float(form: FormData, name: str) -> float:
    raw = _arg(form.get(name))  # type: ignore[arg-type]
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise Open311Error(400, f"{name} must be a number (WGS84 degrees)") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise Open311Error(400, f"{name} must be a finite number")
    return value


def _attributes(form: FormData) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        m = _ATTRIBUTE.match(key)
        if m and isinstance(value, str) and value.strip():
            out.setdefault(m.group(1), []).append(value.strip())
    return out


def _check_attributes(category: Category, given: dict[str, list[str]]) -> dict[str, Any]:
    defined = {a["code"]: a for a in attributes_of(category)}
    for code in given:
        if code not in defined:
            raise Open311Error(400, f"attribute[{code}] is not defined for {category.code}")
    out: dict[str, Any] = {}
    for code, spec in defined.items():
        values = given.get(code, [])
        if not values:
            if spec["required"]:
                raise Open311Error(400, f"attribute[{code}] is required for {category.code}")
            continue
        if spec["datatype"] != "multivaluelist" and len(values) > 1:
            raise Open311Error(400, f"attribute[{code}] takes one value")
        if code == "component_code" and not re.fullmatch(r"\d{16}", values[0]):
            raise Open311Error(400, "attribute[component_code] must be 16 digits")
        out[code] = values if spec["datatype"] == "multivaluelist" else values[0]
    return out


def _locate_address(
    session: Session, address_id: str | None, text: str | None
) -> tuple[float, float]:
    """A registry standard address (标准地址) → its building's point."""
    stmt = select(Building.lon, Building.lat).join(Address, Address.building_id == Building.id)
    if address_id is not None:
        if not address_id.isdigit():
            raise Open311Error(400, "address_id must be a standard address id (digits)")
        stmt = stmt.where(Address.id == int(address_id))
        field = "address_id"
    else:
        stmt = stmt.where(Address.full_name == text)
        field = "address_string"
    row = session.execute(stmt.limit(1)).first()
    if row is None:
        raise Open311Error(
            400, f"{field} is not a known standard address; send lat and long instead"
        )
    return float(row.lon), float(row.lat)


def _reporter(form: FormData) -> dict[str, str] | None:
    first, last = _arg(form.get("first_name")), _arg(form.get("last_name"))  # type: ignore[arg-type]
    # Chinese order: family name first.
    name = "".join(p for p in (last, first) if p) if (first or last) else None
    fields = {
        "name": name,
        "phone": _arg(form.get("phone")),  # type: ignore[arg-type]
        "email": _arg(form.get("email")),  # type: ignore[arg-type]
    }
    kept = {k: v for k, v in fields.items() if v}
    return kept or None


@router.post("/requests.{fmt}", summary="Open311 POST service request (api_key required)")
async def create_request(request: Request, fmt: str) -> Response:
    fmt = _fmt(fmt)
    form = await request.form()
    platform = _platform(request)
    _jurisdiction(_arg(form.get("jurisdiction_id")))  # type: ignore[arg-type]
    now = platform.clock.now()
    ip = request.client.host if request.client else ""

    def work() -> tuple[dict[str, Any], Entry]:
        with _trusted(platform) as session:
            key = check_key(session, _arg(form.get("api_key")), now)  # type: ignore[arg-type]
            client = f"open311:{key.client}"[:64]
            code = _arg(form.get("service_code"))  # type: ignore[arg-type]
            if code is None:
                raise Open311Error(400, "service_code is required")
            category = _service_category(session, code)
            attributes = _check_attributes(category, _attributes(form))
            lat_raw, long_raw = _arg(form.get("lat")), _arg(form.get("long"))  # type: ignore[arg-type]
            address_id = _arg(form.get("address_id"))  # type: ignore[arg-type]
            address = _arg(form.get("address_string"))  # type: ignore[arg-type]
            if lat_raw is not None or long_raw is not None:
                if lat_raw is None or long_raw is None:
                    raise Open311Error(400, "lat and long must be sent together")
                lon, lat = _float(form, "long"), _float(form, "lat")
            elif address_id is not None or address is not None:
                lon, lat = _locate_address(session, address_id, address)
            else:
                raise Open311Error(
                    400, "a location is required: lat and long, address_string or address_id"
                )
            description = _arg(form.get("description")) or category.name_zh  # type: ignore[arg-type]
            if len(description) > MAX_DESCRIPTION:
                raise Open311Error(400, "description is longer than 4000 characters")
            if _HTML.search(description):
                raise Open311Error(400, "description must not contain HTML")
            media_url = _arg(form.get("media_url"))  # type: ignore[arg-type]
            if media_url is not None and (
                not re.match(r"^https?://[^\s]+$", media_url) or len(media_url) > 400
            ):
                raise Open311Error(400, "media_url must be an http(s) URL of at most 400 chars")
            token = secrets.token_hex(8)
            try:
                case = services.submit_report(
                    session,
                    category_code=category.code,
                    lon=lon,
                    lat=lat,
                    description=description,
                    source=Source.OPEN311.value,
                    reporter=_reporter(form),
                    at=now,
                    actor=services.SystemActor(client),
                    address=address or "",
                    component_code=attributes.get("component_code"),
                    external_ref=f"open311:{token}",
                )
            except YituError as exc:
                raise Open311Error(400, spec_names(exc.detail)) from exc
            session.add(
                Open311Request(
                    case_id=case.id,
                    node_id=case.node_id,
                    key_id=key.id,
                    token=token,
                    media_url=media_url or "",
                    address_id=int(address_id) if address_id else None,
                    attributes=attributes,
                    created_at=now,
                )
            )
            # realtime keys get the id at once; batch keys the token (spec: one or the other).
            answer: dict[str, Any] = (
                {"token": token}
                if key.mode == "batch"
                else {"service_request_id": case.number}
            )
            answer.update(service_notice=_notice(category), account_id=None)
            entry = Entry(
                "create",
                Actor(username=client, role="open311", client_ip=ip),
                object_type="case",
                object_ids=[case.id],
                fields=sorted(_reporter(form) or {}),
                purpose="open311",
            )
            return answer, entry

    answer, entry = await platform.call(work)
    await platform.audit.submit_async(entry)
    return render(fmt, "service_requests", [answer])


_SPEC_NAMES = (
    (re.compile(r"\blon\b"), "long"),
    (re.compile(r"\bcategory_code\b"), "service_code"),
    (re.compile(r"\breporter\.(phone|email)\b"), r"\1"),
    (re.compile(r"\breporter\.name\b"), "first_name/last_name"),
    (re.compile(r"\baddress\b"), "address_string"),
    (re.compile(r"\bcomponent_code\b"), "attribute[component_code]"),
)


def spec_names(detail: str) -> str:
    """The core's field names in an error → the names the Open311 client sent."""
    for pattern, name in _SPEC_NAMES:
        detail = pattern.sub(name, detail)
    return detail


def _notice(category: Category) -> str:
    limits = category.time_limits.get("normal", {}).get("handle")
    unit = {"working_hours": "工作时", "working_days": "工作日", "natural_hours": "小时"}
    when = f"，处置时限 {limits[0]:g} {unit.get(limits[1], limits[1])}" if limits else ""
    return f"已受理上报，将按程序核实、立案并派遣处置{when}。"


# --- GET requests, one request, a token ---------------------------------------------------------


def _request_columns() -> Select[Any]:
    return (
        select(
            Case.id,
            Case.number,
            Case.state,
            Case.description,
            Case.category_code,
            Category.name_zh.label("service_name"),
            Department.name_zh.label("agency"),
            Case.created_at,
            Case.updated_at,
            Case.closed_at,
            Case.handle_due_at,
            Case.address_text,
            Case.township_id,
            Case.node_id,
            Case.lon,
            Case.lat,
            Open311Request.media_url,
            Open311Request.address_id,
        )
        .join(Category, Category.id == Case.category_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(Open311Request, Open311Request.case_id == Case.id)
        .where(Case.kind.in_(PUBLIC_KINDS))
    )


def _place_names(session: Session, rows: Iterable[Row[Any]]) -> dict[int, str]:
    ids = {r.township_id for r in rows} | {r.node_id for r in rows}
    if not ids:
        return {}
    found = session.execute(
        select(JurisdictionNode.id, JurisdictionNode.name).where(JurisdictionNode.id.in_(ids))
    )
    return {node_id: name for node_id, name in found}


def request_of(row: Row[Any], places: dict[int, str]) -> dict[str, Any]:
    state = State(row.state)
    closed = state in CLOSED_STATES
    updated = row.closed_at if (state == State.CLOSED and row.closed_at) else row.updated_at
    place = " ".join(p for p in (places.get(row.node_id), places.get(row.township_id)) if p)
    address = row.address_text or place
    if address:
        address = f"{address}, 老河口市, 湖北省"
    return {
        "service_request_id": row.number,
        "status": "closed" if closed else "open",
        "status_notes": STATUS_NOTES[state],
        "service_name": row.service_name,
        "service_code": row.category_code,
        "description": mask_text(row.description or ""),
        "agency_responsible": row.agency,
        "service_notice": None,
        "requested_datetime": w3(as_utc(row.created_at)),
        "updated_datetime": w3(as_utc(updated)),
        "expected_datetime": w3(as_utc(row.handle_due_at)) if row.handle_due_at else None,
        "address": mask_text(address) or None,
        "address_id": row.address_id,
        "zipcode": ZIPCODE,
        "lat": round(float(row.lat), 7),
        "long": round(float(row.lon), 7),
        "media_url": row.media_url or None,
    }


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@router.get("/requests.{fmt}", summary="Open311 GET service requests")
async def list_requests(
    request: Request,
    fmt: str,
    jurisdiction_id: str | None = None,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
) -> Response:
    fmt = _fmt(fmt)
    _jurisdiction(jurisdiction_id)
    platform = _platform(request)
    stmt = _request_columns()
    ids = _split(service_request_id)
    if ids:  # spec: overrides every other argument
        if len(ids) > MAX_REQUESTS:
            raise Open311Error(400, f"at most {MAX_REQUESTS} service_request_id values")
        stmt = stmt.where(Case.number.in_(ids))
    else:
        now = platform.clock.now()
        start = parse_w3("start_date", start_date) if _arg(start_date) else None
        end = parse_w3("end_date", end_date) if _arg(end_date) else None
        if start is None and end is None:
            end, start = now, now - WINDOW
        elif start is None:
            start = end - WINDOW  # type: ignore[operator]
        elif end is None:
            end = min(now, start + WINDOW)
        assert start is not None and end is not None
        if end < start:
            raise Open311Error(400, "end_date is before start_date")
        if end - start > WINDOW:
            raise Open311Error(400, "start_date to end_date may not span more than 90 days")
        stmt = stmt.where(Case.created_at >= start, Case.created_at <= end)
        codes = _split(service_code)
        if codes:
            stmt = stmt.where(Case.category_code.in_(codes))
        statuses = set(_split(status))
        if statuses - {"open", "closed"}:
            raise Open311Error(400, "status must be open or closed (comma-separated)")
        closed = [s.value for s in CLOSED_STATES]
        if statuses == {"open"}:
            stmt = stmt.where(Case.state.not_in(closed))
        elif statuses == {"closed"}:
            stmt = stmt.where(Case.state.in_(closed))
    stmt = stmt.order_by(Case.created_at.desc(), Case.id.desc()).limit(MAX_REQUESTS)

    def work() -> list[dict[str, Any]]:
        with _trusted(platform) as session:
            rows = session.execute(stmt).all()
            places = _place_names(session, rows)
            return [request_of(r, places) for r in rows]

    return render(fmt, "service_requests", await platform.call(work))


@router.get("/requests/{service_request_id}.{fmt}", summary="Open311 GET one service request")
async def get_request(
    request: Request, service_request_id: str, fmt: str, jurisdiction_id: str | None = None
) -> Response:
    fmt = _fmt(fmt)
    _jurisdiction(jurisdiction_id)
    platform = _platform(request)

    def work() -> list[dict[str, Any]]:
        with _trusted(platform) as session:
            rows = session.execute(
                _request_columns().where(Case.number == service_request_id)
            ).all()
            if not rows:
                raise Open311Error(404, f"service_request_id {service_request_id} not found")
            return [request_of(rows[0], _place_names(session, rows))]

    return render(fmt, "service_requests", await platform.call(work))


@router.get("/tokens/{token}.{fmt}", summary="Open311 GET service_request_id from a token")
async def get_token(
    request: Request, token: str, fmt: str, jurisdiction_id: str | None = None
) -> Response:
    fmt = _fmt(fmt)
    _jurisdiction(jurisdiction_id)
    platform = _platform(request)

    def work() -> list[dict[str, Any]]:
        with _trusted(platform) as session:
            number = session.scalar(
                select(Case.number)
                .join(Open311Request, Open311Request.case_id == Case.id)
                .where(Open311Request.token == token)
            )
            if number is None:
                raise Open311Error(404, f"token {token} not found")
            return [{"service_request_id": number, "token": token}]

    return render(fmt, "service_requests", await platform.call(work))
