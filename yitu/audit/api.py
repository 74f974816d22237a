"""HTTP API for the audit log: readable by the audit admin only."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select

from yitu.access.deps import admin_session, get_platform, requires
from yitu.access.principal import Principal
from yitu.access.roles import Permission
from yitu.audit.chain import Entry, verify
from yitu.audit.models import AuditEvent
from yitu.core.pagination import decode_cursor, encode_cursor
from yitu.runtime import Platform

router = APIRouter(prefix="/audit", tags=["audit"])
PlatformDep = Annotated[Platform, Depends(get_platform)]
AuditAdmin = Annotated[Principal, Depends(requires(Permission.AUDIT_READ))]


class AuditEventOut(BaseModel):
    seq: int
    event_time: str
    actor_user_id: int | None
    actor_username: str
    actor_role: str
    client_ip: str
    request_id: str
    action: str
    object_type: str
    object_ids: list[int | str]
    fields: list[str]
    purpose: str
    reason: str
    success: bool
    detail: str


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None
    problem: str


@router.get("/events", response_model=AuditPage, summary="Read the audit log (audit admin)")
def list_events(
    platform: PlatformDep,
    principal: AuditAdmin,
    action: str | None = None,
    actor: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AuditPage:
    stmt = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit + 1)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if actor:
        stmt = stmt.where(AuditEvent.actor_username == actor)
    if cursor:
        (last_seq,) = decode_cursor(cursor, 1)
        stmt = stmt.where(AuditEvent.seq < int(last_seq))
    with admin_session(platform) as session:
        rows = list(session.scalars(stmt))
    items = [
        AuditEventOut(
            **{
                k: getattr(e, k)
                for k in AuditEventOut.model_fields
                if k not in ("object_ids", "fields")
            },
            object_ids=json.loads(e.object_ids),
            fields=json.loads(e.fields),
        )
        for e in rows[:limit]
    ]
    next_cursor = encode_cursor([rows[limit - 1].seq]) if len(rows) > limit else None
    # Reading the log is itself audited (等保 8.1.5: the admins' own operations are audited).
    platform.audit.record(
        Entry("view", principal.actor, object_type="audit_event", detail=f"{len(items)} events")
    )
    return AuditPage(items=items, next_cursor=next_cursor)


@router.post("/verify", response_model=VerifyOut, summary="Verify the HMAC chain (audit admin)")
def verify_chain(platform: PlatformDep, principal: AuditAdmin) -> VerifyOut:
    result = verify(platform.db, platform.audit.key)
    platform.audit.record(
        Entry(
            "verify",
            principal.actor,
            object_type="audit_event",
            success=result.ok,
            detail=result.problem,
        )
    )
    return VerifyOut(
        ok=result.ok,
        checked=result.checked,
        first_bad_seq=result.first_bad_seq,
        problem=result.problem,
    )
