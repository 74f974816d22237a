"""Organisation changes commit with their audit records (``AuditLog.change``): with the audit
store failing, a create or an update leaves no change; a change that fails, or an update that
changes nothing, leaves no record."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from foundation.conftest import DatabaseFactory
from foundation.test_change_audit import audit_store_refuses
from foundation.world import GRID_A, GRID_B, World, build_world
from sqlalchemy import func, select

from yitu.access.roles import Role
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.audit.chain import verify
from yitu.audit.models import AuditEvent
from yitu.registry.codes import make_credit_code
from yitu.registry.models import Organisation

API = "/api/v1/registry/organisations"


@pytest.fixture
def fresh_world(databases: DatabaseFactory, tmp_path: Path) -> Iterator[World]:
    w = build_world(databases.fresh(), tmp_path)
    yield w
    w.close()


def _org(n: int, **over: Any) -> dict[str, Any]:
    body = {"name": f"审计测试商行{n}", "credit_code": make_credit_code("420682", 9000 + n),
            "kind": "individual_business", "lon": 111.665, "lat": 32.375, "node_code": GRID_A}
    return {**body, **over}


def _orgs(w: World) -> list[tuple[int, str]]:
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        return [(o.id, o.name) for o in s.scalars(select(Organisation).order_by(Organisation.id))]


def _last_seq(w: World) -> int:
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        return int(s.scalar(select(func.max(AuditEvent.seq))) or 0)


def _audit_since(w: World, seq: int) -> list[tuple[str, str]]:
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq))
        return [(e.action, e.object_ids) for e in rows]


def test_organisation_changes_need_their_audit_record(fresh_world: World) -> None:
    w = fresh_world
    client = TestClient(w.client.app, raise_server_exceptions=False)
    h = w.headers(Role.GRID_WORKER)
    r = client.post(API, json=_org(1), headers=h)
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    before, seq = _orgs(w), _last_seq(w)
    with audit_store_refuses(w):
        assert client.post(API, json=_org(2), headers=h).status_code == 500
        assert client.patch(f"{API}/{oid}", json={"name": "改名商行"}, headers=h).status_code == 500
    assert _orgs(w) == before and _last_seq(w) == seq

    r = client.patch(f"{API}/{oid}", json={"name": "改名商行"}, headers=h)
    assert r.status_code == 200 and r.json()["name"] == "改名商行"
    assert _audit_since(w, seq) == [("update", f"[{oid}]")]
    assert verify(w.platform.db, w.platform.audit.key).ok


def test_a_failing_or_empty_organisation_change_leaves_no_record(fresh_world: World) -> None:
    w = fresh_world
    h = w.headers(Role.GRID_WORKER)
    r = w.client.post(API, json=_org(1), headers=h)
    assert r.status_code == 201
    oid, before, seq = r.json()["id"], _orgs(w), _last_seq(w)
    taken = _org(2, credit_code=_org(1)["credit_code"])
    assert w.client.post(API, json=taken, headers=h).status_code == 409
    assert w.client.post(API, json=_org(3, node_code=GRID_B), headers=h).status_code == 403
    assert w.client.patch(f"{API}/{oid}", json={"employees": -1}, headers=h).status_code == 422
    # The values it already holds: nothing changed, nothing recorded, nothing committed.
    r = w.client.patch(f"{API}/{oid}", json={"name": _org(1)["name"]}, headers=h)
    assert r.status_code == 200 and r.json()["name"] == _org(1)["name"]
    assert _orgs(w) == before and _audit_since(w, seq) == []
