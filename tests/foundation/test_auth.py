"""Accounts: login, lockout after 5 failures for 30 minutes, idle and absolute expiry, logout,
one-time passwords, the admins' separated powers."""

from __future__ import annotations

from datetime import timedelta

from foundation.world import PASSWORD, VILLAGE_A1, World
from yitu.access.roles import Role

LOGIN = "/api/v1/auth/login"


def _login(world: World, username: str, password: str):  # type: ignore[no-untyped-def]
    return world.client.post(LOGIN, json={"username": username, "password": password})


def _audit_actions(world: World, username: str) -> list[str]:
    r = world.client.get(
        f"/api/v1/audit/events?actor={username}&limit=200",
        headers={"Authorization": f"Bearer {world.login('u_audit_admin')}"},  # a fresh session
    )
    return [e["action"] for e in reversed(r.json()["items"])]


def test_lockout_after_five_failures_for_thirty_minutes(fresh_world: World) -> None:
    w, user = fresh_world, "u_mediator"
    for attempt in range(1, 5):
        r = _login(w, user, "wrong-password-1")
        assert r.status_code == 401, attempt
        assert r.json()["detail"] == "wrong username or password, or the account is disabled"
    r = _login(w, user, "wrong-password-1")
    assert r.status_code == 423
    assert "locked for 30 minutes after 5 failed logins" in r.json()["detail"]
    # Locked: even the right password is refused.
    assert _login(w, user, PASSWORD).status_code == 423
    w.clock.advance(timedelta(minutes=29, seconds=59))
    assert _login(w, user, PASSWORD).status_code == 423
    w.clock.advance(timedelta(seconds=1))
    assert _login(w, user, PASSWORD).status_code == 200
    actions = _audit_actions(w, user)
    assert actions.count("login_failed") == 7
    assert actions[-1] == "login"


def test_success_resets_the_failure_count(fresh_world: World) -> None:
    w, user = fresh_world, "u_mediator"
    for _ in range(4):
        assert _login(w, user, "nope-nope-1").status_code == 401
    assert _login(w, user, PASSWORD).status_code == 200
    for _ in range(4):
        assert _login(w, user, "nope-nope-1").status_code == 401
    assert _login(w, user, PASSWORD).status_code == 200


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(world: World) -> None:
    r1 = _login(world, "nobody_here", "whatever-123")
    r2 = _login(world, "u_operator", "whatever-123")
    assert r1.status_code == r2.status_code == 401
    assert r1.json()["detail"] == r2.json()["detail"]


def test_security_admin_unlocks(fresh_world: World) -> None:
    w = fresh_world
    for _ in range(5):
        _login(w, "u_mediator", "bad-password-9")
    assert _login(w, "u_mediator", PASSWORD).status_code == 423
    uid = w.user_ids[Role.MEDIATOR]
    r = w.client.post(f"/api/v1/users/{uid}/unlock", headers=w.headers(Role.SEC_ADMIN))
    assert r.status_code == 200 and r.json()["locked"] is False
    assert _login(w, "u_mediator", PASSWORD).status_code == 200


def test_idle_expiry_and_activity_keeps_session_alive(fresh_world: World) -> None:
    w = fresh_world
    h = w.headers(Role.OPERATOR)
    for _ in range(3):  # 3 × 20 min of activity: longer than the idle limit in total
        w.clock.advance(timedelta(minutes=20))
        assert w.client.get("/api/v1/auth/me", headers=h).status_code == 200
    w.clock.advance(timedelta(minutes=30))
    r = w.client.get("/api/v1/auth/me", headers=h)
    assert r.status_code == 401
    assert "idle" in r.json()["detail"]
    w.clock.advance(timedelta(seconds=-1800))  # even back in time, an ended session stays ended
    assert w.client.get("/api/v1/auth/me", headers=h).status_code == 401


def test_absolute_expiry(fresh_world: World) -> None:
    w = fresh_world
    h = w.headers(Role.OPERATOR)
    statuses = []
    for _ in range(12 * 4):  # active every 15 minutes for 12 hours
        w.clock.advance(timedelta(minutes=15))
        r = w.client.get("/api/v1/auth/me", headers=h)
        statuses.append(r.status_code)
        if r.status_code == 401:
            assert "expired" in r.json()["detail"]
            break
    assert statuses == [200] * (12 * 4 - 1) + [401]


def test_logout_revokes_the_token(fresh_world: World) -> None:
    w = fresh_world
    h = w.headers(Role.GRID_WORKER)
    assert w.client.post("/api/v1/auth/logout", headers=h).status_code == 204
    r = w.client.get("/api/v1/people", headers=h)
    assert r.status_code == 401 and "ended" in r.json()["detail"]
    assert "logout" in _audit_actions(w, "u_grid_worker")


def test_one_time_password_flow(fresh_world: World) -> None:
    w = fresh_world
    r = w.client.post(
        "/api/v1/users",
        json={"username": "new_worker", "password": "Initial-pass-1"},
        headers=w.headers(Role.SYS_ADMIN),
    )
    assert r.status_code == 201 and r.json()["role"] is None and r.json()["must_change_password"]
    uid = r.json()["id"]
    # The system admin cannot grant; the security admin does.
    grant = {"role": "grid_worker", "scopes": [VILLAGE_A1]}
    denied = w.client.put(
        f"/api/v1/users/{uid}/grants", json=grant, headers=w.headers(Role.SYS_ADMIN)
    )
    assert denied.status_code == 403
    ok = w.client.put(f"/api/v1/users/{uid}/grants", json=grant, headers=w.headers(Role.SEC_ADMIN))
    assert ok.status_code == 200 and ok.json()["scopes"] == [VILLAGE_A1]
    token = w.login("new_worker", "Initial-pass-1")
    h = {"Authorization": f"Bearer {token}"}
    blocked = w.client.get("/api/v1/people", headers=h)
    assert blocked.status_code == 403 and "one-time password" in blocked.json()["detail"]
    weak = w.client.post(
        "/api/v1/auth/password",
        headers=h,
        json={"current_password": "Initial-pass-1", "new_password": "short"},
    )
    assert weak.status_code == 422 and "at least 10 characters" in weak.json()["detail"]
    changed = w.client.post(
        "/api/v1/auth/password",
        headers=h,
        json={"current_password": "Initial-pass-1", "new_password": "My-own-pass-2026"},
    )
    assert changed.status_code == 204
    assert w.client.get("/api/v1/people", headers=h).status_code == 200


def test_grant_change_ends_open_sessions(fresh_world: World) -> None:
    w = fresh_world
    uid = w.user_ids[Role.MEDIATOR]
    h = w.headers(Role.MEDIATOR)
    assert w.client.get("/api/v1/people", headers=h).status_code == 200
    r = w.client.put(
        f"/api/v1/users/{uid}/grants",
        json={"role": "mediator", "scopes": []},
        headers=w.headers(Role.SEC_ADMIN),
    )
    assert r.status_code == 422 and "needs at least one jurisdiction" in r.json()["detail"]
    r = w.client.put(
        f"/api/v1/users/{uid}/grants",
        json={"role": "eldercare_operator", "scopes": [VILLAGE_A1]},
        headers=w.headers(Role.SEC_ADMIN),
    )
    assert r.status_code == 200
    assert w.client.get("/api/v1/people", headers=h).status_code == 401


def test_admin_roles_carry_no_jurisdiction_and_one_role_per_account(fresh_world: World) -> None:
    w = fresh_world
    uid = w.user_ids[Role.MEDIATOR]
    r = w.client.put(
        f"/api/v1/users/{uid}/grants",
        json={"role": "audit_admin", "scopes": [VILLAGE_A1]},
        headers=w.headers(Role.SEC_ADMIN),
    )
    assert r.status_code == 422 and "admin roles hold no jurisdiction" in r.json()["detail"]
    r = w.client.put(
        f"/api/v1/users/{uid}/grants",
        json={"role": "emperor", "scopes": []},
        headers=w.headers(Role.SEC_ADMIN),
    )
    assert r.status_code == 422 and "unknown role 'emperor'" in r.json()["detail"]
    own = w.user_ids[Role.SEC_ADMIN]
    r = w.client.put(
        f"/api/v1/users/{own}/grants",
        json={"role": "audit_admin", "scopes": []},
        headers=w.headers(Role.SEC_ADMIN),
    )
    assert r.status_code == 422 and "your own grants" in r.json()["detail"]


def test_disabled_account_cannot_log_in(fresh_world: World) -> None:
    w = fresh_world
    uid = w.user_ids[Role.MEDIATOR]
    h = w.headers(Role.MEDIATOR)
    r = w.client.post(f"/api/v1/users/{uid}/disable", headers=w.headers(Role.SYS_ADMIN))
    assert r.status_code == 200 and r.json()["active"] is False
    assert w.client.get("/api/v1/auth/me", headers=h).status_code == 401
    assert _login(w, "u_mediator", PASSWORD).status_code == 401


def test_duplicate_username_is_a_conflict(world: World) -> None:
    r = world.client.post(
        "/api/v1/users",
        json={"username": "u_operator", "password": "Pass-word-123"},
        headers=world.headers(Role.SYS_ADMIN),
    )
    assert r.status_code == 409 and "already exists" in r.json()["detail"]


def test_session_token_is_stored_hashed(world: World) -> None:
    from sqlalchemy import select

    from yitu.access.models import AuthSession
    from yitu.access.scope import SCOPE_KEY, UNRESTRICTED

    token = world.tokens[Role.OPERATOR]
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        stored = list(session.scalars(select(AuthSession.token_hash)))
    assert token not in stored and all(len(h) == 64 for h in stored)
