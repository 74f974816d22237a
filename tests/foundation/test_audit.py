"""The audit chain: what is recorded, who may read it, and tampering of every kind detected."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from foundation.world import AUDIT_KEY, GRID_A, World
from yitu.access.roles import Role
from yitu.audit.chain import Actor, Entry, compute_mac, verify
from yitu.audit.keys import AuditKey
from yitu.cli import app as cli

COLUMNS = (
    "seq, event_time, actor_user_id, actor_username, actor_role, session_id, client_ip, "
    "request_id, action, object_type, object_ids, fields, purpose, reason, success, detail, "
    "key_id, prev_mac, mac"
)


def tamper(world: World, *statements: str) -> None:
    """Act as someone with write access to the database who bypasses the append-only triggers."""
    with world.platform.db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))
        for sql in statements:
            conn.execute(text(sql))


def _check(world: World):  # type: ignore[no-untyped-def]
    return verify(world.platform.db, world.platform.audit.key)


def _cli_verify(world: World, *args: str):  # type: ignore[no-untyped-def]
    env = {"YITU_DATABASE_URL": world.platform.db.url, "YITU_AUDIT_KEY": AUDIT_KEY}
    return CliRunner().invoke(cli, ["audit", "verify", *args], env=env)


def _events(world: World, query: str = "") -> list[dict[str, object]]:
    r = world.client.get(
        f"/api/v1/audit/events?limit=200&{query}", headers=world.headers(Role.AUDIT_ADMIN)
    )
    assert r.status_code == 200
    return list(r.json()["items"])


def test_reads_are_recorded_with_who_what_fields_and_why(fresh_world: World) -> None:
    w = fresh_world
    person = w.people_in(GRID_A)[0]
    w.client.get(f"/api/v1/people/{person.id}", headers=w.headers(Role.GRID_WORKER))
    w.client.post(
        f"/api/v1/people/{person.id}/break-glass",
        json={"reason": "emergency: person reported missing"},
        headers=w.headers(Role.OPERATOR),
    )
    w.client.post(
        "/api/v1/people/search", json={"phone": person.phone}, headers=w.headers(Role.MEDIATOR)
    )
    w.client.get("/api/v1/people/export.csv", headers=w.headers(Role.TOWNSHIP_OFFICER))
    events = {e["action"]: e for e in _events(w)}
    view = events["view"]
    assert view["actor_username"] == "u_grid_worker" and view["actor_role"] == "grid_worker"
    assert view["object_ids"] == [person.id] and view["purpose"] == "detail"
    assert view["fields"] == ["address", "id_number", "name", "phone"]
    glass = events["break_glass"]
    assert (
        glass["reason"] == "emergency: person reported missing" and "birth_date" in glass["fields"]
    )
    assert events["search"]["detail"] == "by phone" and events["search"]["object_ids"] == [
        person.id
    ]
    assert events["export"]["detail"] == "9 rows csv" and len(events["export"]["object_ids"]) == 9
    assert {"login", "view", "search", "export", "break_glass"} <= set(events)
    assert _check(w).ok


def test_login_failures_are_recorded(fresh_world: World) -> None:
    w = fresh_world
    w.client.post("/api/v1/auth/login", json={"username": "u_operator", "password": "bad-pass-11"})
    failed = _events(w, "action=login_failed")
    assert failed[0]["actor_username"] == "u_operator" and failed[0]["success"] is False


def test_the_database_refuses_update_and_delete(fresh_world: World) -> None:
    engine = fresh_world.platform.db.engine
    for sql in ("UPDATE audit_events SET detail = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(sql))
    assert _check(fresh_world).ok and _check(fresh_world).checked == 10


def test_edited_record_is_named(fresh_world: World) -> None:
    tamper(fresh_world, "UPDATE audit_events SET actor_username = 'someone_else' WHERE seq = 4")
    result = _check(fresh_world)
    assert not result.ok and result.first_bad_seq == 4 and "edited" in result.problem
    assert result.checked == 3
    out = _cli_verify(fresh_world)
    assert out.exit_code == 1 and "BROKEN at seq 4" in out.output


def test_deleted_record_is_named(fresh_world: World) -> None:
    tamper(fresh_world, "DELETE FROM audit_events WHERE seq = 5")
    result = _check(fresh_world)
    assert not result.ok and result.first_bad_seq == 6 and "deleted" in result.problem
    assert result.checked == 4


def test_inserted_record_is_named(fresh_world: World) -> None:
    w = fresh_world
    forged_key = b"attacker-does-not-have-the-key!!"
    prev = w.platform.audit.head()
    assert prev is not None
    values = {
        "seq": prev[0] + 1,
        "event_time": "2026-11-26T09:00:00.000000+00:00",
        "actor_user_id": None,
        "actor_username": "ghost",
        "actor_role": "",
        "session_id": None,
        "client_ip": "",
        "request_id": "",
        "action": "login",
        "object_type": "",
        "object_ids": "[]",
        "fields": "[]",
        "purpose": "",
        "reason": "",
        "success": True,
        "detail": "",
        "key_id": w.platform.audit.key.key_id,
        "prev_mac": prev[1],
    }
    mac = compute_mac(forged_key, values)
    tamper(
        w,
        f"INSERT INTO audit_events ({COLUMNS}) VALUES ({prev[0] + 1}, "
        f"'{values['event_time']}', NULL, 'ghost', '', NULL, '', '', 'login', '', '[]', "
        f"'[]', '', '', TRUE, '', '{values['key_id']}', '{prev[1]}', '{mac}')",
    )
    result = _check(w)
    assert not result.ok and result.first_bad_seq == prev[0] + 1 and "forged" in result.problem


def test_replayed_record_is_named(fresh_world: World) -> None:
    # A genuine record copied to the end as if it happened again: its MAC covers the old seq.
    head = fresh_world.platform.audit.head()
    assert head is not None
    cols = COLUMNS.replace("seq, ", "", 1)
    tamper(
        fresh_world,
        f"INSERT INTO audit_events (seq, {cols}) SELECT {head[0] + 1}, {cols} "
        "FROM audit_events WHERE seq = 2",
    )
    result = _check(fresh_world)
    assert not result.ok and result.first_bad_seq == head[0] + 1


def test_reordered_records_are_named(fresh_world: World) -> None:
    w = fresh_world
    # Physically reorder rows 3 and 4: take both out and put them back the other way round.
    tamper(
        w,
        "CREATE TABLE tmp_swap AS SELECT * FROM audit_events WHERE seq >= 3",
        "DELETE FROM audit_events WHERE seq >= 3",
        f"INSERT INTO audit_events ({COLUMNS}) SELECT {COLUMNS} FROM tmp_swap WHERE seq = 4",
        f"INSERT INTO audit_events ({COLUMNS}) SELECT {COLUMNS} FROM tmp_swap WHERE seq = 3",
        f"INSERT INTO audit_events ({COLUMNS}) SELECT {COLUMNS} FROM tmp_swap WHERE seq >= 5 "
        "ORDER BY seq",
        "DROP TABLE tmp_swap",
    )
    result = _check(w)
    assert not result.ok and result.first_bad_seq == 4 and "reordered" in result.problem


def test_swapped_sequence_numbers_are_named(fresh_world: World) -> None:
    tamper(
        fresh_world,
        "UPDATE audit_events SET seq = 1000 WHERE seq = 6",
        "UPDATE audit_events SET seq = 6 WHERE seq = 7",
        "UPDATE audit_events SET seq = 7 WHERE seq = 1000",
    )
    result = _check(fresh_world)
    assert not result.ok and result.first_bad_seq == 7


def test_tail_deletion_is_caught_against_an_anchor(fresh_world: World) -> None:
    w = fresh_world
    head = w.platform.audit.head()
    assert head is not None
    anchor = f"{head[0]}:{head[1]}"
    assert _cli_verify(w, "--anchor", anchor).exit_code == 0
    tamper(w, f"DELETE FROM audit_events WHERE seq = {head[0]}")
    assert _check(w).ok  # a clean tail cut is invisible to the chain alone …
    out = _cli_verify(w, "--anchor", anchor)
    assert out.exit_code == 1 and "tail deleted" in out.output  # … but not to the anchor


def test_wrong_key_fails_verification(fresh_world: World) -> None:
    result = verify(fresh_world.platform.db, AuditKey(b"another-key-entirely-123"))
    assert not result.ok and result.first_bad_seq == 1


def test_cli_verify_ok(fresh_world: World) -> None:
    out = _cli_verify(fresh_world)
    assert out.exit_code == 0 and "audit chain OK: 10 records verified" in out.output


def test_concurrent_appends_keep_one_linear_chain(fresh_world: World) -> None:
    from concurrent.futures import ThreadPoolExecutor

    log = fresh_world.platform.audit
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: log.record(Entry("view", Actor(username=f"t{i}"))), range(80)))
    result = _check(fresh_world)
    assert result.ok and result.checked == 90


def test_audit_admin_reads_pages_newest_first(fresh_world: World) -> None:
    w = fresh_world
    h = w.headers(Role.AUDIT_ADMIN)
    first = w.client.get("/api/v1/audit/events?limit=4", headers=h).json()
    second = w.client.get(
        f"/api/v1/audit/events?limit=4&cursor={first['next_cursor']}", headers=h
    ).json()
    seqs = [e["seq"] for e in first["items"] + second["items"]]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 8
