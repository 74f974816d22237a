"""Every change commits in one transaction with its audit record (``AuditLog.change``): if the
record cannot be written the change is rolled back, and a change that fails (in its body or at
COMMIT, after its record was written) leaves no record. Failures are real database failures:
a trigger that refuses audit inserts (the audit store failing), and constraints checked only
at COMMIT. Concurrent changes, reads and another process's appends keep one linear chain."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from foundation.world import GRID_A, PASSWORD, World
from yitu.access.models import AuthSession, JurisdictionNode, User
from yitu.access.roles import Role
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.audit.chain import Actor, AuditLog, Entry, verify
from yitu.audit.models import AuditEvent
from yitu.core.db import Database
from yitu.people.idnumber import make_id_number
from yitu.people.models import Person

PROBLEM_500 = "the server failed; quote the request_id when reporting it"


def _execute(w: World, *statements: str) -> None:
    with w.platform.db.engine.begin() as conn:
        for sql in statements:
            conn.execute(text(sql))


@contextmanager
def audit_store_refuses(w: World) -> Iterator[None]:
    """The audit table refuses every insert, as a failing audit store would."""
    if w.platform.db.dialect == "postgresql":
        _execute(
            w,
            "CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit store unavailable'; END $$",
            "CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_audit()",
        )
        drop = [
            "DROP TRIGGER test_refuse_audit ON audit_events",
            "DROP FUNCTION test_refuse_audit()",
        ]
    else:
        _execute(
            w,
            "CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_events "
            "BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END",
        )
        drop = ["DROP TRIGGER test_refuse_audit"]
    try:
        yield
    finally:
        _execute(w, *drop)


def _count(w: World, stmt: object) -> int:
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        return int(session.scalar(stmt) or 0)  # type: ignore[call-overload]


def _audit_count(w: World) -> int:
    return _count(w, select(func.count()).select_from(AuditEvent))


def _person(n: int, name: str = "吴国强") -> dict[str, str]:
    return {
        "name": name,
        "id_number": make_id_number("420682", date(1950, 5, 5), 500 + n),
        "phone": "",
        "address": "小东门社区",
        "node_code": GRID_A,
    }


def _people_named(w: World, name: str) -> int:
    return _count(w, select(func.count()).select_from(Person).where(Person.name == name))


def test_audit_failure_rolls_every_change_back(fresh_world: World) -> None:
    w = fresh_world
    client = TestClient(w.client.app, raise_server_exceptions=False)
    target = w.user_ids[Role.MEDIATOR]
    before = _audit_count(w)
    sessions_before = _count(w, select(func.count()).select_from(AuthSession))

    with audit_store_refuses(w):
        r = client.post("/api/v1/people", headers=w.headers(Role.OPERATOR), json=_person(1))
        assert r.status_code == 500 and r.json()["detail"] == PROBLEM_500
        r = client.post(
            "/api/v1/users",
            headers=w.headers(Role.SYS_ADMIN),
            json={"username": "never_made", "password": "Longenough-1"},
        )
        assert r.status_code == 500
        r = client.post(f"/api/v1/users/{target}/disable", headers=w.headers(Role.SYS_ADMIN))
        assert r.status_code == 500
        r = client.put(
            f"/api/v1/users/{target}/grants",
            headers=w.headers(Role.SEC_ADMIN),
            json={"role": "grid_worker", "scopes": [GRID_A]},
        )
        assert r.status_code == 500
        login = {"username": "u_mediator", "password": PASSWORD}
        assert client.post("/api/v1/auth/login", json=login).status_code == 500
        login["password"] = "wrong-password-1"
        assert client.post("/api/v1/auth/login", json=login).status_code == 500
        assert (
            client.post("/api/v1/auth/logout", headers=w.headers(Role.MEDIATOR)).status_code == 500
        )

    assert _people_named(w, "吴国强") == 0
    assert (
        _count(w, select(func.count()).select_from(User).where(User.username == "never_made")) == 0
    )
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        mediator = session.get(User, target)
        assert mediator is not None
        assert mediator.active and mediator.role == "mediator" and mediator.failed_logins == 0
    # No login made a session, no disable, grant change or logout ended one.
    assert _count(w, select(func.count()).select_from(AuthSession)) == sessions_before
    assert (
        _count(
            w,
            select(func.count())
            .select_from(AuthSession)
            .where(AuthSession.revoked_at.is_not(None)),
        )
        == 0
    )
    assert client.get("/api/v1/people?limit=1", headers=w.headers(Role.MEDIATOR)).status_code == 200
    assert _audit_count(w) == before + 1  # only the mediator's read just now

    # The store is back: the same change goes through, with exactly one record, chain intact.
    r = client.post("/api/v1/people", headers=w.headers(Role.OPERATOR), json=_person(1))
    assert r.status_code == 201
    with w.platform.db.session() as session:
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
    assert last.action == "create" and json.loads(last.object_ids) == [r.json()["id"]]
    assert _audit_count(w) == before + 2
    assert verify(w.platform.db, w.platform.audit.key).ok


def test_a_failing_change_leaves_no_audit_record(fresh_world: World) -> None:
    w = fresh_world
    before = _audit_count(w)
    actor = Actor(username="tester", role="cli")
    with (
        pytest.raises(ValueError, match="changed its mind"),
        w.platform.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change,
    ):
        node = change.session.scalar(
            select(JurisdictionNode).where(JurisdictionNode.code == GRID_A)
        )
        assert node is not None
        node.name = "renamed"
        change.session.flush()
        change.record(Entry("update", actor, object_type="jurisdiction", detail="rename"))
        raise ValueError("changed its mind")
    with (
        pytest.raises(RuntimeError, match="at least one audit entry"),
        w.platform.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change,
    ):
        node = change.session.scalar(
            select(JurisdictionNode).where(JurisdictionNode.code == GRID_A)
        )
        assert node is not None
        node.name = "renamed without a record"
    names = _count(
        w,
        select(func.count())
        .select_from(JurisdictionNode)
        .where(JurisdictionNode.name.like("renamed%")),
    )
    assert names == 0 and _audit_count(w) == before


@pytest.fixture
def commit_check(fresh_world: World) -> Iterator[int]:
    """A node id that does not exist; on PostgreSQL also a deferred constraint trigger that
    refuses a person named 'commit-fails' at COMMIT."""
    w = fresh_world
    if w.platform.db.dialect == "postgresql":
        _execute(
            w,
            "CREATE FUNCTION test_fail_commit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'checked at commit: refused'; END $$",
            "CREATE CONSTRAINT TRIGGER test_fail_commit AFTER INSERT ON people "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            "WHEN (NEW.name = 'commit-fails') EXECUTE FUNCTION test_fail_commit()",
        )
    yield 10_000_000


def test_a_change_failing_at_commit_leaves_no_audit_record(
    fresh_world: World, commit_check: int
) -> None:
    w = fresh_world
    before, head = _audit_count(w), w.platform.audit.head()
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        grid_id = session.scalar(select(JurisdictionNode.id).where(JurisdictionNode.code == GRID_A))
    # SQLite: a dangling node id, its foreign key deferred to COMMIT. PostgreSQL: the trigger.
    node_id = commit_check if w.platform.db.dialect == "sqlite" else grid_id
    seen_inside: list[int] = []
    with (
        pytest.raises(Exception) as failure,
        w.platform.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change,
    ):
        node = change.session.get(JurisdictionNode, grid_id)
        assert node is not None
        node.name = "renamed in a failing change"
        change.session.flush()  # the transaction is open now (SQLite: this pragma is per
        if w.platform.db.dialect == "sqlite":  # transaction, reset at its end)
            change.session.execute(text("PRAGMA defer_foreign_keys = ON"))
        person = Person(
            name="commit-fails",
            id_number=make_id_number("420682", date(1960, 6, 6), 77),
            phone="",
            address="小东门社区",
            gender="M",
            birth_date=date(1960, 6, 6),
            node_id=node_id,
            created_at=w.clock.now(),
        )
        change.session.add(person)
        change.record(Entry("create", Actor(username="tester"), object_type="person"))
        change.session.flush()
        seen_inside.append(person.id)
    assert "FOREIGN KEY" in str(failure.value) or "checked at commit" in str(failure.value)
    assert seen_inside  # the body ran to its end: the failure came at COMMIT
    assert _people_named(w, "commit-fails") == 0
    renamed = (
        select(func.count())
        .select_from(JurisdictionNode)
        .where(JurisdictionNode.name == "renamed in a failing change")
    )
    assert _count(w, renamed) == 0
    assert _audit_count(w) == before and w.platform.audit.head() == head
    # The process's head hint did not move to the rolled-back record: the next append links on.
    with w.platform.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change:
        node = change.session.get(JurisdictionNode, grid_id)
        assert node is not None
        node.name = "after the failure"
        change.record(Entry("update", Actor(username="tester"), object_type="jurisdiction"))
    assert _audit_count(w) == before + 1
    assert verify(w.platform.db, w.platform.audit.key).ok


def test_concurrent_changes_reads_and_another_writer_keep_one_chain(fresh_world: World) -> None:
    """Threads creating people through the API (each change with its record in one
    transaction), threads reading (group-committed records) and a second audit log on its own
    engine (another process): one linear chain, exactly one record per person created."""
    w = fresh_world
    other_db = Database(w.platform.db.url)
    other = AuditLog(other_db, w.platform.audit.key)
    created: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()

    def creator(k: int) -> None:
        client = TestClient(w.client.app)
        for i in range(6):
            r = client.post(
                "/api/v1/people",
                headers=w.headers(Role.OPERATOR),
                json=_person(k * 100 + i, name="并发"),
            )
            with lock:
                (
                    created.append(r.json()["id"])
                    if r.status_code == 201
                    else failures.append(r.text)
                )

    def reader() -> None:
        client = TestClient(w.client.app)
        for _ in range(8):
            r = client.get("/api/v1/people?limit=3", headers=w.headers(Role.GRID_WORKER))
            if r.status_code != 200:
                with lock:
                    failures.append(r.text)

    def writer() -> None:
        for i in range(10):
            other.record(Entry("view", Actor(username=f"other{i}")))

    before = _audit_count(w)
    threads = [threading.Thread(target=creator, args=(k,)) for k in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(3)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other_db.dispose()

    assert not failures, failures[:3]
    assert verify(w.platform.db, w.platform.audit.key).ok
    with w.platform.db.session() as session:
        creates = list(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "create", AuditEvent.object_type == "person"
                )
            )
        )
    recorded = sorted(i for e in creates for i in json.loads(e.object_ids))
    assert len(created) == 24 and recorded == sorted(created)
    assert _audit_count(w) == before + 24 + 3 * 8 + 10
