"""Every role × every endpoint: allowed or refused. The expectations are written out here, apart
from ``yitu.access.roles``, so a change of policy has to change both."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from foundation.world import GRID_A, PASSWORD, VILLAGE_A1, World
from yitu.access import users
from yitu.access.roles import Role
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.people.idnumber import make_id_number

R = Role
ALL = frozenset(Role)
READERS = frozenset(
    {
        R.OPERATOR,
        R.DEPT_HANDLER,
        R.TOWNSHIP_OFFICER,
        R.GRID_WORKER,
        R.ELDERCARE_OPERATOR,
        R.MEDIATOR,
    }
)
SENIOR = frozenset({R.OPERATOR, R.TOWNSHIP_OFFICER})

# (method, path, body, roles allowed). {pid}: a person in GRID_A; {uid}: a throwaway account.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, frozenset[Role]]] = [
    ("GET", "/api/v1/people", None, READERS),
    ("GET", "/api/v1/people?node=" + GRID_A, None, READERS),
    ("GET", "/api/v1/people/count", None, READERS),
    ("GET", "/api/v1/people/{pid}", None, READERS),
    ("POST", "/api/v1/people/search", {"name": "张明"}, READERS),
    (
        "POST",
        "/api/v1/people/{pid}/break-glass",
        {"reason": "court summons delivery check"},
        SENIOR,
    ),
    ("GET", "/api/v1/people/export.csv", None, SENIOR),
    ("POST", "/api/v1/people", "new-person", SENIOR | {R.GRID_WORKER}),
    ("GET", "/api/v1/users", None, frozenset({R.SYS_ADMIN})),
    ("POST", "/api/v1/users", "new-user", frozenset({R.SYS_ADMIN})),
    ("POST", "/api/v1/users/{uid}/disable", None, frozenset({R.SYS_ADMIN})),
    (
        "PUT",
        "/api/v1/users/{uid}/grants",
        {"role": "mediator", "scopes": [VILLAGE_A1]},
        frozenset({R.SEC_ADMIN}),
    ),
    ("POST", "/api/v1/users/{uid}/unlock", None, frozenset({R.SEC_ADMIN})),
    ("POST", "/api/v1/users/{uid}/revoke-sessions", None, frozenset({R.SEC_ADMIN})),
    ("GET", "/api/v1/jurisdictions", None, ALL - {R.AUDIT_ADMIN}),
    ("GET", "/api/v1/jurisdictions?parent=420682000000", None, ALL - {R.AUDIT_ADMIN}),
    ("GET", "/api/v1/audit/events", None, frozenset({R.AUDIT_ADMIN})),
    ("POST", "/api/v1/audit/verify", None, frozenset({R.AUDIT_ADMIN})),
    ("GET", "/api/v1/auth/me", None, ALL),
    ("POST", "/api/v1/auth/password", {"current_password": "wrong", "new_password": "x"}, ALL),
]

CASES = [(m, p, b, allowed, role) for (m, p, b, allowed) in ENDPOINTS for role in Role]
_counter = iter(range(1, 10_000))


@pytest.fixture(scope="module")
def target(world: World) -> Iterator[dict[str, int]]:
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        victim = users.create_user(
            session,
            world.clock,
            "u_victim",
            PASSWORD,
            role=R.MEDIATOR,
            scope_codes=[VILLAGE_A1],
            must_change_password=False,
        )
        uid = victim.id
    yield {"pid": world.people_in(GRID_A)[0].id, "uid": uid}


def _body(kind: Any) -> Any:
    n = next(_counter)
    if kind == "new-person":
        from datetime import date

        return {
            "name": "周新",
            "id_number": make_id_number("420682", date(1990, 1, 2), n),
            "phone": "",
            "address": "小东门社区",
            "node_code": GRID_A,
        }
    if kind == "new-user":
        return {"username": f"made_{n}", "password": "Another-pass-99"}
    return kind


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed", "role"),
    CASES,
    ids=[f"{m} {p.split('?')[0]} as {r.value}" for (m, p, _b, _a, r) in CASES],
)
def test_role_endpoint(
    world: World,
    target: dict[str, int],
    method: str,
    path: str,
    body: Any,
    allowed: frozenset[Role],
    role: Role,
) -> None:
    url = path.format(**target)
    response = world.client.request(method, url, json=_body(body), headers=world.headers(role))
    if role in allowed:
        assert response.status_code not in (401, 403), (role, url, response.text)
        assert response.status_code < 500, response.text
    else:
        assert response.status_code == 403, (role, url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"),
    ENDPOINTS,
    ids=[f"{m} {p}" for (m, p, _b, _a) in ENDPOINTS],
)
def test_no_token_is_401(
    world: World,
    target: dict[str, int],
    method: str,
    path: str,
    body: Any,
    allowed: frozenset[Role],
) -> None:
    response = world.client.request(method, path.format(**target), json=_body(body))
    assert response.status_code == 401
    assert "bearer token" in response.json()["detail"]


def test_forged_token_is_401(world: World) -> None:
    response = world.client.get("/api/v1/people", headers={"Authorization": "Bearer forged"})
    assert response.status_code == 401
    assert response.json()["detail"] == "session token is not valid"


def test_admins_hold_no_business_permission() -> None:
    """三员分立: none of the three admins reaches any people endpoint (also in the matrix)."""
    business = [e for e in ENDPOINTS if "/people" in e[1]]
    for admin in (R.SYS_ADMIN, R.SEC_ADMIN, R.AUDIT_ADMIN):
        assert all(admin not in allowed for (_m, _p, _b, allowed) in business)
