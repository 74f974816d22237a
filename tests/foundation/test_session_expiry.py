"""A session token refused for idle expiry ends the session and audits that end in one
transaction: the session is revoked and a ``session_expired`` record names it, or (if the audit
store fails) neither happens and the token is still refused."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from foundation.test_change_audit import audit_store_refuses
from foundation.world import World
from yitu.access.auth import hash_token
from yitu.access.models import AuthSession
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.audit.chain import verify
from yitu.audit.models import AuditEvent
from yitu.core.clock import as_utc


def _session(w: World, token: str) -> AuthSession:
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        row = session.scalar(select(AuthSession).where(AuthSession.token_hash == hash_token(token)))
        assert row is not None
        session.expunge(row)
        return row


def _expiry_records(w: World) -> list[AuditEvent]:
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        rows = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "session_expired")
                .order_by(AuditEvent.seq)
            )
        )
        session.expunge_all()
        return rows


def test_idle_expiry_ends_the_session_and_audits_it(fresh_world: World) -> None:
    w = fresh_world
    token = w.login("u_operator")
    h = {"Authorization": f"Bearer {token}"}
    assert w.client.get("/api/v1/auth/me", headers=h).status_code == 200
    w.clock.advance(timedelta(minutes=30))
    refused_at = w.clock.now()

    r = w.client.get("/api/v1/auth/me", headers=h)
    assert r.status_code == 401 and "idle" in r.json()["detail"]

    ended = _session(w, token)
    assert ended.revoked_at is not None and as_utc(ended.revoked_at) == refused_at
    (record,) = _expiry_records(w)
    assert record.actor_username == "u_operator" and record.actor_role == "operator"
    assert record.session_id == ended.id and json.loads(record.object_ids) == [ended.id]
    assert record.object_type == "auth_session" and record.detail == "idle for too long"
    # The session is ended for good: presenting the token again writes no second record.
    w.clock.advance(timedelta(minutes=1))
    r = w.client.get("/api/v1/people", headers=h)
    assert r.status_code == 401 and "ended" in r.json()["detail"]
    assert len(_expiry_records(w)) == 1
    assert verify(w.platform.db, w.platform.audit.key).ok


def test_idle_expiry_is_not_ended_without_its_audit_record(fresh_world: World) -> None:
    w = fresh_world
    client = TestClient(w.client.app, raise_server_exceptions=False)
    token = w.login("u_mediator")
    h = {"Authorization": f"Bearer {token}"}
    w.clock.advance(timedelta(minutes=31))

    with audit_store_refuses(w):
        r = client.get("/api/v1/auth/me", headers=h)
        assert r.status_code == 500  # refused: the token serves nothing either way
    assert _session(w, token).revoked_at is None  # the revocation was rolled back with it
    assert _expiry_records(w) == []

    r = client.get("/api/v1/auth/me", headers=h)  # the audit store is back
    assert r.status_code == 401 and "idle" in r.json()["detail"]
    assert _session(w, token).revoked_at is not None
    assert len(_expiry_records(w)) == 1


def test_protected_endpoints_declare_the_bearer_scheme(world: World) -> None:
    # The permission dependency reads the header itself; OpenAPI must still say it wants one.
    spec = world.client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, method in (("/api/v1/people", "get"), ("/api/v1/auth/me", "get")):
        assert spec["paths"][path][method]["security"] == [{"HTTPBearer": []}]
    assert "security" not in spec["paths"]["/api/v1/auth/login"]["post"]
