"""Case administration changes commit with their audit records (``AuditLog.change``): with the
audit store failing, a category create/edit/retire, a department grant or a webhook
subscription (API), a department grant or an Open311 key issued or revoked (CLI) leaves no
change; a change that fails leaves no record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import Result
from fastapi.testclient import TestClient
from foundation.test_change_audit import audit_store_refuses
from foundation.world import AUDIT_KEY
from sqlalchemy import func, select
from typer.testing import CliRunner

from cases.conftest import CasesWorld
from yitu.access.roles import Role
from yitu.audit.chain import verify
from yitu.audit.models import AuditEvent
from yitu.cases.models import Category, DepartmentMember, Subscription
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
