"""Case administration changes commit with their audit records (``AuditLog.change``): with the
audit store failing, a category create/edit/retire, a department grant or a webhook
subscription leaves no change; a change that fails leaves no record."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from foundation.test_change_audit import audit_store_refuses
from sqlalchemy import func, select

from cases.conftest import CasesWorld
from yitu.access.roles import Role
from yitu.audit.chain import verify
from yitu.audit.models import AuditEvent
from yitu.cases.models import Category, DepartmentMember, Subscription

CATS = "/api/v1/cases/categories"
NEW_CATEGORY: dict[str, Any] = {
    "kind": "event",
    "major_code": "99",
    "major_name_zh": "测试大类",
    "minor_code": "01",
    "name_zh": "测试小类",
    "time_limits": {"normal": {"handle": [2, "working_days"]}},
}
SUBSCRIPTION = {"name": "审计测试", "url": "http://127.0.0.1:9/hook", "secret": "s" * 16}


def _count(cw: CasesWorld, stmt: Any) -> int:
    with cw.session() as s:
        return int(s.scalar(stmt) or 0)


def _audit_since(cw: CasesWorld, seq: int) -> list[tuple[str, str, str]]:
    with cw.session() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq))
        return [(e.action, e.object_type, e.detail) for e in rows]


def _last_seq(cw: CasesWorld) -> int:
    return _count(cw, select(func.max(AuditEvent.seq)))


def _state(cw: CasesWorld) -> tuple[int, ...]:
    """Everything the tested endpoints can change."""
    return (
        _count(cw, select(func.count()).select_from(Category)),
        _count(cw, select(func.count()).select_from(Category).where(Category.valid_to.is_(None))),
        _count(cw, select(func.count()).select_from(DepartmentMember)),
        _count(cw, select(func.count()).select_from(Subscription)),
    )


def test_case_admin_changes_need_their_audit_record(fresh_cases: CasesWorld) -> None:
    cw = fresh_cases
    client = TestClient(cw.world.client.app, raise_server_exceptions=False)
    h = cw.world.headers(Role.OPERATOR)
    before, seq = _state(cw), _last_seq(cw)
    with audit_store_refuses(cw.world):
        assert client.post(CATS, json=NEW_CATEGORY, headers=h).status_code == 500
        assert client.patch(f"{CATS}/E0106", json={"name_zh": "改"}, headers=h).status_code == 500
        assert client.delete(f"{CATS}/E0106", headers=h).status_code == 500
        member = {"username": "u_township_officer"}
        r = client.post("/api/v1/cases/departments/cgj/members", json=member, headers=h)
        assert r.status_code == 500
        r = client.post("/api/v1/cases/subscriptions", json=SUBSCRIPTION, headers=h)
        assert r.status_code == 500
    assert _state(cw) == before and _last_seq(cw) == seq

    # The audit store is back: each change commits with exactly its record.
    r = client.post(CATS, json=NEW_CATEGORY, headers=h)
    assert r.status_code == 201, r.text
    assert client.patch(f"{CATS}/E9901", json={"name_zh": "改"}, headers=h).status_code == 200
    assert client.delete(f"{CATS}/E9901", headers=h).status_code == 204
    r = client.post("/api/v1/cases/departments/cgj/members", json=member, headers=h)
    assert r.status_code == 201
    r = client.post("/api/v1/cases/subscriptions", json=SUBSCRIPTION, headers=h)
    assert r.status_code == 201
    assert _audit_since(cw, seq) == [
        ("create", "case_category", "E9901"),
        ("update", "case_category", "E9901 v2"),
        ("delete", "case_category", "E9901"),
        ("grant", "case_department", "cgj"),
        ("create", "case_subscription", SUBSCRIPTION["name"]),
    ]
    assert _state(cw) == (before[0] + 2, before[1], before[2] + 1, before[3] + 1)
    assert verify(cw.platform.db, cw.platform.audit.key).ok


def test_a_failing_case_admin_change_leaves_no_record(fresh_cases: CasesWorld) -> None:
    cw = fresh_cases
    h = cw.world.headers(Role.OPERATOR)
    before, seq = _state(cw), _last_seq(cw)
    client = cw.world.client
    assert client.post(CATS, json=dict(NEW_CATEGORY, minor_code="06", major_code="01"),
                       headers=h).status_code == 409  # E0106 exists
    assert client.delete(f"{CATS}/E9999", headers=h).status_code == 404
    r = client.post("/api/v1/cases/departments/cgj/members", json={"username": "u_mediator"},
                    headers=h)
    assert r.status_code == 422
    r = client.post("/api/v1/cases/subscriptions", json=dict(SUBSCRIPTION, department="nope"),
                    headers=h)
    assert r.status_code == 422
    assert _state(cw) == before and _audit_since(cw, seq) == []
