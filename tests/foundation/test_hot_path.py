"""The fast read path keeps every guarantee: cached principals never outlive a revocation made
in this process, idle expiry still holds, and concurrent requests and appends from another
process keep one linear, verifiable audit chain with one record per read."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from foundation.test_change_audit import audit_store_refuses
from foundation.world import World
from yitu.access.roles import Role
from yitu.audit.chain import Actor, AuditLog, Entry, verify
from yitu.audit.models import AuditEvent
from yitu.core.db import Database

PEOPLE = "/api/v1/people?limit=5"


def _cached(w: World, role: Role) -> dict[str, str]:
    h = w.headers(role)
    for _ in range(2):  # the second answer comes from the cached principal
        assert w.client.get(PEOPLE, headers=h).status_code == 200
    return h


def test_revoked_sessions_are_refused_at_once_even_when_cached(fresh_world: World) -> None:
    w = fresh_world
    h = _cached(w, Role.GRID_WORKER)
    user_id = w.user_ids[Role.GRID_WORKER]
    r = w.client.post(f"/api/v1/users/{user_id}/revoke-sessions", headers=w.headers(Role.SEC_ADMIN))
    assert r.status_code == 204
    assert w.client.get(PEOPLE, headers=h).status_code == 401


def test_logout_is_refused_at_once_even_when_cached(fresh_world: World) -> None:
    w = fresh_world
    h = _cached(w, Role.OPERATOR)
    assert w.client.post("/api/v1/auth/logout", headers=h).status_code == 204
    assert w.client.get(PEOPLE, headers=h).status_code == 401


def test_disabled_account_is_refused_at_once_even_when_cached(fresh_world: World) -> None:
    w = fresh_world
    h = _cached(w, Role.MEDIATOR)
    user_id = w.user_ids[Role.MEDIATOR]
    r = w.client.post(f"/api/v1/users/{user_id}/disable", headers=w.headers(Role.SYS_ADMIN))
    assert r.status_code == 200
    assert w.client.get(PEOPLE, headers=h).status_code == 401


def test_cached_session_still_ends_when_idle(fresh_world: World) -> None:
    w = fresh_world
    h = _cached(w, Role.GRID_WORKER)
    w.clock.advance(timedelta(minutes=31))
    r = w.client.get(PEOPLE, headers=h)
    assert r.status_code == 401 and "idle" in r.json()["detail"]
    w.clock.advance(timedelta(minutes=-31))  # back in time: the ended session stays ended
    assert w.client.get(PEOPLE, headers=h).status_code == 401


def test_concurrent_requests_and_another_writer_keep_one_chain(fresh_world: World) -> None:
    """Threads against the real app (each its own event loop), while a second audit log on its
    own engine (as another process would) appends too: one linear chain, one record per read."""
    w = fresh_world
    other_db = Database(w.platform.db.url)
    other = AuditLog(other_db, w.platform.audit.key)
    roles = [Role.GRID_WORKER, Role.OPERATOR, Role.TOWNSHIP_OFFICER, Role.MEDIATOR]
    served: list[list[int]] = []
    failures: list[str] = []

    def reader(role: Role) -> None:
        client = TestClient(w.client.app)
        for _ in range(10):
            r = client.get(PEOPLE, headers=w.headers(role))
            if r.status_code != 200:
                failures.append(r.text)
            else:
                served.append([p["id"] for p in r.json()["items"]])

    def writer() -> None:
        for i in range(20):
            other.record(Entry("view", Actor(username=f"cli{i}")))

    with w.platform.db.session() as session:
        before = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    threads = [threading.Thread(target=reader, args=(r,)) for r in roles * 2]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other_db.dispose()

    assert not failures
    result = verify(w.platform.db, w.platform.audit.key)
    assert result.ok, result.problem
    with w.platform.db.session() as session:
        new = list(session.scalars(select(AuditEvent).where(AuditEvent.seq > (before or 0))))
    reads = sorted(ids for e in new if e.action == "view" and (ids := json.loads(e.object_ids)))
    assert len(new) == len([ids for ids in served if ids]) + 20
    assert reads == sorted(ids for ids in served if ids)


def test_concurrent_reads_are_group_committed_one_record_each(fresh_world: World) -> None:
    """Many concurrent reads against the real app share audit commits (the committer's own
    counters: fewer commits than records), yet each read has its own record naming exactly the
    ids it served, with its own request id, and the chain verifies."""
    w = fresh_world
    audit = w.platform.audit
    roles = [Role.GRID_WORKER, Role.OPERATOR, Role.TOWNSHIP_OFFICER, Role.MEDIATOR]
    served: dict[str, list[int]] = {}
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    async def burst(role: Role) -> None:
        # One client and event loop per thread; 8 requests in flight at once on it.
        transport = httpx.ASGITransport(app=w.client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            rs = await asyncio.gather(
                *(client.get(PEOPLE, headers=w.headers(role)) for _ in range(8))
            )
        for r in rs:
            with lock:
                if r.status_code != 200:
                    failures.append(r.text)
                else:
                    served[r.headers["x-request-id"]] = [p["id"] for p in r.json()["items"]]

    def reader(role: Role) -> None:
        start.wait()
        for _ in range(3):
            asyncio.run(burst(role))

    batches, records = audit.batches_committed, audit.records_committed
    with w.platform.db.session() as session:
        before = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    threads = [threading.Thread(target=reader, args=(r,)) for r in roles * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not failures
    assert len(served) == 16 * 3 * 8
    assert verify(w.platform.db, w.platform.audit.key).ok
    with w.platform.db.session() as session:
        new = list(session.scalars(select(AuditEvent).where(AuditEvent.seq > (before or 0))))
    by_request = {e.request_id: json.loads(e.object_ids) for e in new if e.action == "view"}
    expected = {rid: ids for rid, ids in served.items() if ids}
    assert len(new) == len(expected)
    assert by_request == expected
    new_records = audit.records_committed - records
    new_batches = audit.batches_committed - batches
    assert new_records == len(expected)
    assert new_batches < new_records  # batching happened: records shared commits


def test_a_read_whose_audit_record_fails_is_not_served(fresh_world: World) -> None:
    """The group commit failing (the audit store refusing inserts) answers 500 with no data; the
    head hint is set first, so on PostgreSQL this is the pipelined one-round-trip batch."""
    w = fresh_world
    h = w.headers(Role.GRID_WORKER)
    assert w.client.get(PEOPLE, headers=h).status_code == 200
    client = TestClient(w.client.app, raise_server_exceptions=False)
    with audit_store_refuses(w):
        r = client.get(PEOPLE, headers=h)
        assert r.status_code == 500 and "items" not in r.json()
    assert w.client.get(PEOPLE, headers=h).status_code == 200
    assert verify(w.platform.db, w.platform.audit.key).ok


def test_group_commit_takes_the_fast_path_and_finds_the_head_after_another_writer(
    fresh_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads after reads take the fast path (on PostgreSQL: no general append); a record
    appended by another process in between makes the next read's batch find the new head
    itself, and its record follows it in the chain."""
    w = fresh_world
    audit = w.platform.audit
    h = w.headers(Role.GRID_WORKER)
    general = []
    original = audit._append_committed
    monkeypatch.setattr(
        audit, "_append_committed", lambda conn, items: general.append(1) or original(conn, items)
    )
    for _ in range(3):
        assert w.client.get(PEOPLE, headers=h).status_code == 200
    general.clear()
    assert w.client.get(PEOPLE, headers=h).status_code == 200
    if w.platform.db.dialect == "postgresql":
        assert general == []  # the pipelined batch, not the general path
    other_db = Database(w.platform.db.url)
    other_seq = AuditLog(other_db, audit.key).record(Entry("view", Actor(username="cli")))
    other_db.dispose()
    r = w.client.get(PEOPLE, headers=h)
    assert r.status_code == 200
    assert verify(w.platform.db, audit.key).ok
    with w.platform.db.session() as session:
        after = session.scalar(select(AuditEvent).where(AuditEvent.seq == other_seq + 1))
    assert after is not None and after.request_id == r.headers["x-request-id"]
    assert json.loads(after.object_ids) == [p["id"] for p in r.json()["items"]]


def test_batched_records_keep_every_value_exactly(fresh_world: World) -> None:
    """Records of one group commit (on PostgreSQL sent as one JSON document) are stored exactly
    as their MACs were computed: unicode, quotes, backslashes, newlines, NULL ids, false."""
    w = fresh_world
    audit = w.platform.audit
    audit.submit(Entry("view", Actor(username="warm-up")))  # sets the head hint: the fast path
    odd = [
        Entry(
            "break_glass",
            Actor(None, "张\\\"'x\n", "", None, "::1"),
            object_type="person",
            object_ids=[1, 2**31 - 1],
            fields=["phone", "name"],
            purpose="break_glass",
            reason='紧急情况 "quoted" \\ back\tslash \u2028 😀',
            success=False,
            detail="{}[]\r\n",
        ),
        Entry("view", Actor(7, "u", "grid_worker", 9, "10.0.0.1"), object_ids=["a", None]),
    ]
    seqs = audit.submit_many([(e, f"rid-{i}") for i, e in enumerate(odd)])
    assert seqs[1] == seqs[0] + 1
    assert verify(w.platform.db, audit.key).ok
    with w.platform.db.session() as session:
        stored = session.scalar(select(AuditEvent).where(AuditEvent.seq == seqs[0]))
    assert stored is not None
    assert stored.reason == odd[0].reason and stored.actor_username == "张\\\"'x\n"
    assert stored.actor_user_id is None and stored.success is False
    assert stored.detail == "{}[]\r\n" and stored.request_id == "rid-0"
