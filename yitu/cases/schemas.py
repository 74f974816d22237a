"""API shapes for cases, and the masking serializer (the only way a case's reporter contact
leaves the server): list views get tier L1, the detail view L2 (``yitu.access.masking``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from yitu.access.masking import Tier, mask_name, mask_phone
from yitu.cases.models import Case, CaseEvent, Category, Department, Evidence, Supervision
from yitu.core.clock import as_utc

#: Personal fields of a case (named in audit records of reads).
PERSONAL_FIELDS = ["reporter_name", "reporter_phone", "reporter_email"]


def mask_email(value: str, tier: Tier) -> str | None:
    if not value:
        return None
    if tier == Tier.L3:
        return value
    if tier == Tier.L0:
        return None
    local, _, domain = value.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


def _t(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def case_dict(c: Case, tier: Tier, dept_code: str | None = None) -> dict[str, Any]:
    return {
        "id": c.id,
        "number": c.number,
        "category": c.category_code,
        "category_id": c.category_id,
        "kind": c.kind,
        "title": c.title,
        "description": c.description if tier >= Tier.L2 else None,
        "address": c.address_text,
        "state": c.state,
        "source": c.source,
        "urgent": c.urgent,
        "lon": c.lon,
        "lat": c.lat,
        "grid_code": c.code,
        "code3d": c.code3d or None,
        "node_id": c.node_id,
        "township_id": c.township_id,
        "department": dept_code,
        "component_id": c.component_id,
        "tier": tier.name,
        "reporter_name": mask_name(c.reporter_name, tier) or None,
        "reporter_phone": mask_phone(c.reporter_phone, tier),
        "reporter_email": mask_email(c.reporter_email, tier),
        "stage": c.stage,
        "due_at": _t(c.due_at),
        "warn_at": _t(c.warn_at),
        "handle_due_at": _t(c.handle_due_at),
        "warning_level": c.warning_level,
        "extension_pending": c.extension_pending,
        "duplicate_of": c.duplicate_of,
        "repeat_count": c.repeat_count,
        "rework_count": c.rework_count,
        "return_count": c.return_count,
        "extension_count": c.extension_count,
        "supervision_count": c.supervision_count,
        "satisfaction": c.satisfaction,
        "created_at": _t(c.created_at),
        "updated_at": _t(c.updated_at),
        "closed_at": _t(c.closed_at),
    }


def event_dict(e: CaseEvent) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": _t(e.at),
        "actor_user_id": e.actor_user_id,
        "actor_external": e.actor_external or None,
        "role": e.role,
        "action": e.action,
        "from_state": e.from_state,
        "to_state": e.to_state,
        "note": e.note,
        "data": e.data,
    }


def evidence_dict(e: Evidence) -> dict[str, Any]:
    return {
        "id": e.id,
        "event_id": e.event_id,
        "sha256": e.sha256,
        "size": e.size,
        "mime": e.mime,
        "width": e.width,
        "height": e.height,
        "taken_at": _t(e.taken_at),
        "lon": e.lon,
        "lat": e.lat,
    }


def category_dict(c: Category, dept_code: str | None) -> dict[str, Any]:
    return {
        "id": c.id,
        "code": c.code,
        "version": c.version,
        "kind": c.kind,
        "major_code": c.major_code,
        "major_name_zh": c.major_name_zh,
        "minor_code": c.minor_code,
        "name_zh": c.name_zh,
        "name_en": c.name_en,
        "filing_condition": c.filing_condition,
        "closing_condition": c.closing_condition,
        "time_limits": c.time_limits,
        "department": dept_code or "township",
        "duplicate_radius_m": c.duplicate_radius_m,
        "valid_from": _t(c.valid_from),
        "valid_to": _t(c.valid_to),
    }


def department_dict(d: Department) -> dict[str, Any]:
    return {"code": d.code, "name_zh": d.name_zh, "name_en": d.name_en, "kind": d.kind,
            "node_id": d.node_id}


def supervision_dict(s: Supervision, number: str) -> dict[str, Any]:
    return {
        "id": s.id,
        "case_id": s.case_id,
        "case_number": number,
        "stage": s.stage,
        "reason": s.reason,
        "due_at": _t(s.due_at),
        "note": s.note,
        "created_at": _t(s.created_at),
        "resolved_at": _t(s.resolved_at),
    }


class TransitionIn(BaseModel):
    action: str = Field(min_length=1, max_length=24)
    note: str | None = Field(None, max_length=2000)
    data: dict[str, Any] = Field(default_factory=dict)


class CategoryIn(BaseModel):
    kind: str
    major_code: str = Field(pattern=r"^\d{2}$")
    major_name_zh: str = Field(min_length=1, max_length=40)
    minor_code: str = Field(pattern=r"^\d{2}$")
    name_zh: str = Field(min_length=1, max_length=60)
    name_en: str = Field("", max_length=100)
    filing_condition: str = Field("", max_length=2000)
    closing_condition: str = Field("", max_length=2000)
    time_limits: dict[str, Any]
    department: str | None = Field(None, description="department code, or 'township'")
    duplicate_radius_m: float = Field(50.0, ge=0, le=5000)


class CategoryPatch(BaseModel):
    name_zh: str | None = Field(None, min_length=1, max_length=60)
    name_en: str | None = Field(None, max_length=100)
    major_name_zh: str | None = Field(None, min_length=1, max_length=40)
    filing_condition: str | None = Field(None, max_length=2000)
    closing_condition: str | None = Field(None, max_length=2000)
    time_limits: dict[str, Any] | None = None
    department: str | None = None
    duplicate_radius_m: float | None = Field(None, ge=0, le=5000)


class MemberIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)


class SubscriptionIn(BaseModel):
    name: str = Field(min_length=1, max_length=60)
    url: str = Field(pattern=r"^https?://", max_length=400)
    secret: str = Field(min_length=16, max_length=128)
    actions: str = Field("*", max_length=400)
    department: str | None = None
    channel: str = Field("webhook", max_length=16)
