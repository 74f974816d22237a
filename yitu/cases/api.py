"""HTTP API for cases under ``/api/v1/cases``. Every read that carries reporter contact is
masked for its purpose (list L1, detail L2) and audited before the response leaves; every
change goes through ``services`` in one transaction; webhook deliveries are sent after commit.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from yitu.access.deps import requires, scoped_change, scoped_session
from yitu.access.masking import Tier
from yitu.access.models import JurisdictionNode, User
from yitu.access.principal import Principal
from yitu.access.roles import Permission, Role
from yitu.audit.chain import Entry
from yitu.cases import catalog, evidence, notify, services
from yitu.cases.errors import field_error
from yitu.cases.models import (
    Case,
    CaseEvent,
    Department,
    DepartmentMember,
    Evidence,
    Notification,
    Subscription,
    Supervision,
)
from yitu.cases.schemas import (
    PERSONAL_FIELDS,
    CategoryIn,
    CategoryPatch,
    MemberIn,
    SubscriptionIn,
    TransitionIn,
    case_dict,
    category_dict,
    department_dict,
    event_dict,
    evidence_dict,
    supervision_dict,
)
from yitu.core.errors import ConflictError, ForbiddenError, NotFoundError
from yitu.core.pagination import decode_cursor, encode_cursor
from yitu.runtime import Platform

router = APIRouter(prefix="/cases", tags=["cases"])

Reader = Annotated[Principal, Depends(requires(Permission.CASE_READ))]
Reporter_ = Annotated[Principal, Depends(requires(Permission.CASE_REPORT))]
Actor_ = Annotated[Principal, Depends(requires(Permission.CASE_ACT))]
Admin = Annotated[Principal, Depends(requires(Permission.CASE_ADMIN))]


def upload_limits(api_prefix: str) -> list[tuple[re.Pattern[str], int]]:
    """Body limits for the photo upload endpoints (``BodyLimit``): every photo at its maximum
    plus room for the form fields; everything else keeps the platform's general limit."""
    s = evidence.get_case_settings()
    limit = s.max_photos * s.max_photo_bytes + 256 * 1024
    return [(re.compile(rf"{re.escape(api_prefix)}/cases(/[^/]+/transitions/with-photos)?"),
             limit)]


def _platform(request: Request) -> Platform:
    return request.app.state.platform  # type: ignore[no-any-return]


def _evidence_dir(p: Platform) -> Any:
    return p.settings.data_dir / "evidence"


def _dept_codes(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Department.id, Department.code)).all())


def _handler_filter(session: Session, principal: Principal) -> list[int] | None:
    """Department handlers see the cases of their departments only."""
    if principal.role == Role.DEPT_HANDLER:
        return services.handler_departments(session, principal.user_id)
    return None


def _visible(session: Session, principal: Principal, ref: str) -> Case:
    case = services.get_case(session, ref)
    depts = _handler_filter(session, principal)
    if depts is not None and case.department_id not in depts:
        raise NotFoundError(f"case {ref} not found")
    return case


def _read_entry(principal: Principal, ids: list[int], purpose: str) -> Entry:
    return Entry("view", principal.actor, object_type="case", object_ids=ids,
                 fields=PERSONAL_FIELDS, purpose=purpose)


def _deliver_later(background: BackgroundTasks, p: Platform) -> None:
    background.add_task(notify.deliver_pending, p.db)


def _detail(session: Session, principal: Principal, case: Case) -> dict[str, Any]:
    depts = _dept_codes(session)
    out = case_dict(case, Tier.L2, depts.get(case.department_id or 0))
    out["events"] = [
        event_dict(e)
        for e in session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
        )
    ]
    out["evidence"] = [
        evidence_dict(e)
        for e in session.scalars(
            select(Evidence).where(Evidence.case_id == case.id).order_by(Evidence.id)
        )
    ]
    out["duplicates"] = list(
        session.scalars(select(Case.id).where(Case.duplicate_of == case.id).order_by(Case.id))
    )
    out["allowed_actions"] = services.allowed_actions(session, principal, case)
    return out


async def _photos(files: list[UploadFile] | None) -> list[bytes]:
    out = []
    limit = evidence.get_case_settings().max_photo_bytes
    for i, f in enumerate(files or []):
        data = await f.read(limit + 1)
        if len(data) > limit:
            raise field_error(f"photos[{i}]", f"is larger than {limit} bytes")
        out.append(data)
    return out


# --- categories and departments (before /{case_ref}) --------------------------------------


@router.get("/categories", summary="Categories in force (or at a given time)")
async def get_categories(
    request: Request, principal: Reader, at: datetime | None = None
) -> list[dict[str, Any]]:
    p = _platform(request)

    def work() -> list[dict[str, Any]]:
        with scoped_session(p, principal) as s:
            depts = _dept_codes(s)
            return [category_dict(c, depts.get(c.department_id or 0))
                    for c in services.list_categories(s, at=at)]

    return await p.call(work)


@router.get("/categories/{code}/versions", summary="Every version of one category")
async def get_category_versions(
    code: str, request: Request, principal: Reader
) -> list[dict[str, Any]]:
    p = _platform(request)

    def work() -> list[dict[str, Any]]:
        with scoped_session(p, principal) as s:
            depts = _dept_codes(s)
            return [category_dict(c, depts.get(c.department_id or 0))
                    for c in catalog.category_versions(s, code)]

    return await p.call(work)


@router.post("/categories", status_code=201, summary="A new category (version 1)")
async def post_category(body: CategoryIn, request: Request, principal: Admin) -> dict[str, Any]:
    p = _platform(request)

    def work() -> dict[str, Any]:
        with scoped_change(p, principal) as change:  # the category and its record, or neither
            s = change.session
            c = catalog.create_category(s, body.model_dump(), at=p.clock.now(),
                                        user_id=principal.user_id)
            s.flush()
            out = category_dict(c, _dept_codes(s).get(c.department_id or 0))
            change.record(Entry("create", principal.actor, object_type="case_category",
                                object_ids=[c.id], detail=c.code))
        return out

    return await p.call(work)


@router.patch("/categories/{code}", summary="Edit a category: a new version from now on")
async def patch_category(
    code: str, body: CategoryPatch, request: Request, principal: Admin
) -> dict[str, Any]:
    p = _platform(request)
    changes = body.model_dump(exclude_unset=True)

    def work() -> dict[str, Any]:
        with scoped_change(p, principal) as change:
            s = change.session
            c = catalog.revise_category(s, code, changes, at=p.clock.now(),
                                        user_id=principal.user_id)
            s.flush()
            out = category_dict(c, _dept_codes(s).get(c.department_id or 0))
            change.record(Entry("update", principal.actor, object_type="case_category",
                                object_ids=[c.id], fields=sorted(changes),
                                detail=f"{c.code} v{c.version}"))
        return out

    return await p.call(work)


@router.delete("/categories/{code}", status_code=204, summary="Retire a category")
async def delete_category(code: str, request: Request, principal: Admin) -> None:
    p = _platform(request)

    def work() -> None:
        with scoped_change(p, principal) as change:
            catalog.retire_category(change.session, code, at=p.clock.now())
            change.record(Entry("delete", principal.actor, object_type="case_category",
                                detail=code))

    await p.call(work)


@router.get("/departments", summary="Responsible departments")
async def get_departments(request: Request, principal: Reader) -> list[dict[str, Any]]:
    p = _platform(request)

    def work() -> list[dict[str, Any]]:
        with scoped_session(p, principal) as s:
            return [department_dict(d) for d in
                    s.scalars(select(Department).where(Department.active).order_by(Department.code))]

    return await p.call(work)


@router.post("/departments/{code}/members", status_code=201,
             summary="Let an account handle cases for a department")
async def post_member(
    code: str, body: MemberIn, request: Request, principal: Admin
) -> dict[str, Any]:
    p = _platform(request)

    def work() -> dict[str, Any]:
        with scoped_change(p, principal) as change:
            s = change.session
            dept = catalog.get_department(s, code, "department")
            user = s.scalar(select(User).where(User.username == body.username))
            if user is None or user.role not in (Role.DEPT_HANDLER, Role.TOWNSHIP_OFFICER):
                raise field_error("username", "must be an active dept_handler or township_officer")
            exists = s.scalar(select(DepartmentMember.id).where(
                DepartmentMember.user_id == user.id, DepartmentMember.department_id == dept.id))
            if exists:
                raise ConflictError("already a member")
            s.add(DepartmentMember(user_id=user.id, department_id=dept.id))
            change.record(Entry("grant", principal.actor, object_type="case_department",
                                object_ids=[user.id], detail=code))
        return {"department": code, "username": body.username}

    return await p.call(work)


@router.get("/supervisions", summary="督办 items in your jurisdiction")
async def get_supervisions(
    request: Request, principal: Reader, open_only: bool = True,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[dict[str, Any]]:
    p = _platform(request)

    def work() -> list[dict[str, Any]]:
        with scoped_session(p, principal) as s:
            stmt = select(Supervision, Case.number).join(Case, Case.id == Supervision.case_id)
            if open_only:
                stmt = stmt.where(Supervision.resolved_at.is_(None))
            depts = _handler_filter(s, principal)
            if depts is not None:
                stmt = stmt.where(Supervision.department_id.in_(depts))
            rows = s.execute(stmt.order_by(Supervision.id.desc()).limit(limit)).all()
            return [supervision_dict(sv, number) for sv, number in rows]

    return await p.call(work)


@router.get("/notifications", summary="Your in-app notifications")
async def get_notifications(
    request: Request, principal: Reader, unread_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[dict[str, Any]]:
    p = _platform(request)

    def work() -> list[dict[str, Any]]:
        with scoped_session(p, principal) as s:
            stmt = select(Notification).where(Notification.user_id == principal.user_id)
            if unread_only:
                stmt = stmt.where(Notification.read_at.is_(None))
            rows = s.scalars(stmt.order_by(Notification.id.desc()).limit(limit))
            return [{"id": n.id, "case_id": n.case_id, "action": n.action, "message": n.message,
                     "created_at": n.created_at.isoformat(),
                     "read_at": n.read_at.isoformat() if n.read_at else None} for n in rows]

    return await p.call(work)


@router.post("/notifications/{notification_id}/read", status_code=204,
             summary="Mark a notification read")
async def read_notification(notification_id: int, request: Request, principal: Reader) -> None:
    p = _platform(request)

    def work() -> None:
        with scoped_change(p, principal) as change:  # marked read with its record, or neither
            n = change.session.get(Notification, notification_id)
            if n is None or n.user_id != principal.user_id:
                raise NotFoundError(f"notification {notification_id} not found")
            if n.read_at is not None:
                change.nothing_changed()  # read before: nothing to change or record
                return
            n.read_at = p.clock.now()
            change.record(Entry("update", principal.actor, object_type="case_notification",
                                object_ids=[n.id], fields=["read_at"]))

    await p.call(work)


@router.get("/subscriptions", summary="Webhook subscriptions (secrets not shown)")
async def get_subscriptions(request: Request, principal: Admin) -> list[dict[str, Any]]:
    p = _platform(request)

    def work() -> list[dict[str, Any]]:
        with scoped_session(p, principal) as s:
            return [{"id": x.id, "name": x.name, "channel": x.channel, "url": x.url,
                     "actions": x.actions, "department_id": x.department_id, "active": x.active}
                    for x in s.scalars(select(Subscription).order_by(Subscription.id))]

    return await p.call(work)


@router.post("/subscriptions", status_code=201, summary="Add a webhook subscription")
async def post_subscription(
    body: SubscriptionIn, request: Request, principal: Admin
) -> dict[str, Any]:
    p = _platform(request)
    if body.channel not in notify.SENDERS:
        raise field_error("channel", f"must be one of {', '.join(sorted(notify.SENDERS))}")

    def work() -> dict[str, Any]:
        with scoped_change(p, principal) as change:
            s = change.session
            dept = catalog.get_department(s, body.department) if body.department else None
            sub = Subscription(name=body.name, channel=body.channel, url=body.url,
                               secret=body.secret, actions=body.actions,
                               department_id=dept.id if dept else None, active=True,
                               created_at=p.clock.now())
            s.add(sub)
            s.flush()
            sid = sub.id
            change.record(Entry("create", principal.actor, object_type="case_subscription",
                                object_ids=[sid], detail=body.name))
        return {"id": sid, "name": body.name}

    return await p.call(work)


@router.post("/sweep", summary="Run the warning/督办 sweep now")
async def post_sweep(
    request: Request, principal: Admin, background: BackgroundTasks
) -> dict[str, int]:
    p = _platform(request)

    def work() -> dict[str, int]:
        from yitu.access.scope import SCOPE_KEY, UNRESTRICTED

        with p.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
            r = services.sweep(s, at=p.clock.now())
        return {"yellow": r.yellow, "red": r.red, "supervisions": r.supervisions}

    out = await p.call(work)
    _deliver_later(background, p)
    return out


# --- cases -------------------------------------------------------------------------------


@router.post("", status_code=201, summary="Report a case (multipart, with photos)")
async def report(
    request: Request,
    principal: Reporter_,
    background: BackgroundTasks,
    category_code: Annotated[str, Form(min_length=1, max_length=16)],
    lon: Annotated[float, Form()],
    lat: Annotated[float, Form()],
    description: Annotated[str, Form(min_length=1, max_length=4000)],
    source: Annotated[str | None, Form()] = None,
    title: Annotated[str | None, Form(max_length=200)] = None,
    address: Annotated[str, Form(max_length=200)] = "",
    urgent: Annotated[bool, Form()] = False,
    component_code: Annotated[str | None, Form(max_length=16)] = None,
    height: Annotated[float | None, Form()] = None,
    reporter_name: Annotated[str, Form(max_length=50)] = "",
    reporter_phone: Annotated[str, Form(max_length=20)] = "",
    reporter_email: Annotated[str, Form(max_length=100)] = "",
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> JSONResponse:
    p = _platform(request)
    raw = await _photos(photos)
    src = source or ("grid_worker" if principal.role == Role.GRID_WORKER else "hotline")

    def work() -> dict[str, Any]:
        with scoped_session(p, principal) as s:
            case = services.submit_report(
                s, category_code=category_code, lon=lon, lat=lat, description=description,
                source=src, title=title, address=address, urgent=urgent,
                component_code=component_code or None, height=height,
                reporter={"name": reporter_name, "phone": reporter_phone,
                          "email": reporter_email},
                photos=raw, at=p.clock.now(), actor=principal, evidence_dir=_evidence_dir(p),
            )
            out = _detail(s, principal, case)
        return out

    out = await p.call(work)
    _deliver_later(background, p)
    return JSONResponse(out, status_code=201)


@router.get("", summary="List cases in your jurisdiction (reporter masked L1, audited)")
async def list_cases(
    request: Request,
    principal: Reader,
    state: str | None = None,
    category: str | None = None,
    department: str | None = None,
    node: Annotated[str | None, Query(description="jurisdiction code; its subtree")] = None,
    warning: Annotated[str | None, Query(pattern="^(none|yellow|red)$")] = None,
    source: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    p = _platform(request)

    def work() -> tuple[dict[str, Any], Entry | None]:
        with scoped_session(p, principal) as s:
            stmt = select(Case)
            if state:
                stmt = stmt.where(Case.state.in_(state.split(",")))
            if category:
                stmt = stmt.where(Case.category_code == category)
            if department:
                stmt = stmt.where(Case.department_id == catalog.get_department(
                    s, department, "department").id)
            if node:
                n = s.scalar(select(JurisdictionNode).where(JurisdictionNode.code == node))
                if n is None:
                    raise NotFoundError(f"jurisdiction node {node} does not exist")
                if not principal.scope.contains(n.id):
                    raise ForbiddenError(f"jurisdiction node {node} is outside your scope")
                sub = select(JurisdictionNode.id).where(JurisdictionNode.path.startswith(n.path))
                stmt = stmt.where(Case.node_id.in_(sub))
            if warning:
                stmt = stmt.where(Case.warning_level == warning)
            if source:
                stmt = stmt.where(Case.source == source)
            depts = _handler_filter(s, principal)
            if depts is not None:
                stmt = stmt.where(Case.department_id.in_(depts))
            if cursor:
                (last_id,) = decode_cursor(cursor, 1)
                if not isinstance(last_id, int):
                    raise field_error("cursor", "is not valid")
                stmt = stmt.where(Case.id < last_id)
            rows = list(s.scalars(stmt.order_by(Case.id.desc()).limit(limit + 1)))
            more = len(rows) > limit
            rows = rows[:limit]
            codes = _dept_codes(s)
            items = [case_dict(c, Tier.L1, codes.get(c.department_id or 0)) for c in rows]
        ids = [c.id for c in rows]
        body = {"items": items,
                "next_cursor": encode_cursor([rows[-1].id]) if more and rows else None}
        return body, (_read_entry(principal, ids, "list") if ids else None)

    body, entry = await p.call(work)
    if entry is not None:
        await p.audit.submit_async(entry)
    return body


@router.get("/{case_ref}", summary="One case with its events and evidence (masked L2, audited)")
async def get_case(case_ref: str, request: Request, principal: Reader) -> dict[str, Any]:
    p = _platform(request)

    def work() -> dict[str, Any]:
        with scoped_session(p, principal) as s:
            return _detail(s, principal, _visible(s, principal, case_ref))

    out = await p.call(work)
    await p.audit.submit_async(_read_entry(principal, [out["id"]], "detail"))
    return out


@router.get("/{case_ref}/evidence/{evidence_id}", summary="One photo of a case")
async def get_evidence(
    case_ref: str, evidence_id: int, request: Request, principal: Reader
) -> FileResponse:
    p = _platform(request)

    def work() -> tuple[str, str]:
        with scoped_session(p, principal) as s:
            case = _visible(s, principal, case_ref)
            ev = s.get(Evidence, evidence_id)
            if ev is None or ev.case_id != case.id:
                raise NotFoundError(f"evidence {evidence_id} not found")
            return str(_evidence_dir(p) / ev.path), ev.mime

    path, mime = await p.call(work)
    return FileResponse(path, media_type=mime)


async def _transition(
    request: Request, principal: Principal, background: BackgroundTasks, case_ref: str,
    action: str, note: str | None, data: dict[str, Any], raw: list[bytes],
) -> dict[str, Any]:
    p = _platform(request)

    def work() -> dict[str, Any]:
        with scoped_session(p, principal) as s:
            case = _visible(s, principal, case_ref)
            case = services.transition(s, case.id, action, actor=principal, note=note,
                                       data=data, at=p.clock.now(), photos=raw,
                                       evidence_dir=_evidence_dir(p))
            return _detail(s, principal, case)

    out = await p.call(work)
    _deliver_later(background, p)
    return out


@router.post("/{case_ref}/transitions", summary="Apply a workflow action (JSON)")
async def post_transition(
    case_ref: str, body: TransitionIn, request: Request, principal: Actor_,
    background: BackgroundTasks,
) -> dict[str, Any]:
    return await _transition(request, principal, background, case_ref, body.action, body.note,
                             body.data, [])


@router.post("/{case_ref}/transitions/with-photos",
             summary="Apply a workflow action with photos (multipart; data as a JSON string)")
async def post_transition_photos(
    case_ref: str,
    request: Request,
    principal: Actor_,
    background: BackgroundTasks,
    action: Annotated[str, Form(min_length=1, max_length=24)],
    note: Annotated[str | None, Form(max_length=2000)] = None,
    data: Annotated[str, Form(max_length=4000)] = "{}",
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> dict[str, Any]:
    try:
        parsed = json.loads(data)
    except ValueError:
        raise field_error("data", "must be a JSON object") from None
    if not isinstance(parsed, dict):
        raise field_error("data", "must be a JSON object")
    return await _transition(request, principal, background, case_ref, action, note, parsed,
                             await _photos(photos))
