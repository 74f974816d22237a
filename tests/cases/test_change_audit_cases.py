"""Case administration changes commit with their audit records (``AuditLog.change``): with the
audit store failing, a category create/edit/retire, a department grant or a webhook
subscription (API), a department grant or an Open311 key issued or revoked (CLI) leaves no
change; a change that fails leaves no record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import Result
from fastapi.testclient import TestClient
from foundation.test_change_audit import audit_store_refuses
from foundation.world import AUDIT_KEY
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from cases.conftest import IN_A, CasesWorld
from yitu.access.roles import Role
from yitu.audit.chain import verify
from yitu.audit.models import AuditEvent
from yitu.cases import services
from yitu.cases.models import Category, Department, DepartmentMember, Notification, Subscription
from yitu.cases.open311_models import Open311Key
from yitu.cli import app as cli

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


def _cli(cw: CasesWorld, tmp_path: Path, *args: str) -> Result:
    env = {
        "YITU_DATABASE_URL": cw.platform.settings.database_url,
        "YITU_AUDIT_KEY": AUDIT_KEY,
        "YITU_DATA_DIR": str(tmp_path / "data"),
    }
    return CliRunner().invoke(cli, list(args), env=env)


def test_cli_case_changes_need_their_audit_record(fresh_cases: CasesWorld, tmp_path: Path) -> None:
    cw = fresh_cases
    keys = select(func.count()).select_from(Open311Key)
    members, seq = _state(cw)[2], _last_seq(cw)
    with audit_store_refuses(cw.world):
        assert _cli(cw, tmp_path, "cases", "add-member", "u_dept_handler", "jtj").exit_code != 0
        assert _cli(cw, tmp_path, "cases", "open311-key", "issue", "审计客户端").exit_code != 0
    assert _state(cw)[2] == members and _count(cw, keys) == 0 and _last_seq(cw) == seq

    assert _cli(cw, tmp_path, "cases", "add-member", "u_dept_handler", "jtj").exit_code == 0
    assert _cli(cw, tmp_path, "cases", "open311-key", "issue", "审计客户端").exit_code == 0
    with audit_store_refuses(cw.world):
        assert _cli(cw, tmp_path, "cases", "open311-key", "revoke", "审计客户端").exit_code != 0
    with cw.session() as s:
        assert s.scalar(select(Open311Key.revoked_at)) is None
    assert _cli(cw, tmp_path, "cases", "open311-key", "revoke", "审计客户端").exit_code == 0
    assert _audit_since(cw, seq) == [
        ("grant", "case_department", "jtj"),
        ("create", "open311_key", "审计客户端"),
        ("update", "open311_key", "revoked 审计客户端"),
    ]
    # A change that fails (no such department) leaves no record either.
    assert _cli(cw, tmp_path, "cases", "add-member", "u_dept_handler", "nope").exit_code != 0
    assert len(_audit_since(cw, seq)) == 3


def test_marking_a_notification_read_is_audited_once(fresh_cases: CasesWorld) -> None:
    cw = fresh_cases
    t = cw.world.clock.now()
    gw = cw.principal(Role.GRID_WORKER)
    with cw.session(Role.GRID_WORKER) as s:
        cid = services.submit_report(s, category_code="E0104", lon=IN_A[0], lat=IN_A[1],
                                     description="路面油污", source="grid_worker", actor=gw,
                                     at=t, evidence_dir=cw.evidence_dir).id
    with cw.session() as s:
        services.transition(s, cid, "accept", actor=cw.principal(Role.OPERATOR), at=t)
        nid = s.scalar(select(Notification.id).where(Notification.user_id == gw.user_id))
    assert nid is not None
    client = TestClient(cw.world.client.app, raise_server_exceptions=False)
    h = cw.world.headers(Role.GRID_WORKER)
    url = f"/api/v1/cases/notifications/{nid}/read"
    seq = _last_seq(cw)

    def read_at() -> object:
        return _count_or_none(cw, select(Notification.read_at).where(Notification.id == nid))

    with audit_store_refuses(cw.world):
        assert client.post(url, headers=h).status_code == 500
    assert read_at() is None and _last_seq(cw) == seq
    assert client.post(url, headers=h).status_code == 204
    assert read_at() is not None
    assert _audit_since(cw, seq) == [("update", "case_notification", "")]
    assert client.post(url, headers=h).status_code == 204  # read before: no second record
    assert _last_seq(cw) == seq + 1
    # Someone else's notification is not found, and not recorded.
    assert client.post(url, headers=cw.world.headers(Role.OPERATOR)).status_code == 404
    assert _last_seq(cw) == seq + 1


def test_cli_catalog_seed_is_audited_when_it_changes_something(
    fresh_cases: CasesWorld, tmp_path: Path
) -> None:
    cw = fresh_cases
    town = select(Department.node_id).where(Department.code == "town-420682001")
    with cw.session() as s:  # as if the department was seeded before the divisions
        s.execute(update(Department).where(Department.code == "town-420682001")
                  .values(node_id=None))
    seq = _last_seq(cw)
    with audit_store_refuses(cw.world):
        assert _cli(cw, tmp_path, "cases", "seed").exit_code != 0
    assert _count_or_none(cw, town) is None and _last_seq(cw) == seq
    result = _cli(cw, tmp_path, "cases", "seed")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"departments": 0, "categories": 0, "placed": 1}
    assert _count_or_none(cw, town) is not None
    assert _audit_since(cw, seq) == [
        ("config_change", "case_catalog", '{"categories": 0, "departments": 0, "placed": 1}')
    ]
    # Everything in place: nothing changes, nothing is recorded.
    assert _cli(cw, tmp_path, "cases", "seed").exit_code == 0
    assert _last_seq(cw) == seq + 1
    assert verify(cw.platform.db, cw.platform.audit.key).ok


def _count_or_none(cw: CasesWorld, stmt: Any) -> Any:
    with cw.session() as s:
        return s.scalar(stmt)
