"""Web fixtures: the foundation's databases and log check, and a map county: the foundation
world (users of every role, logged in) with the small demo county loaded into it (boundaries,
grids, roads, the Han River, 2 386 buildings)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from foundation.conftest import (  # noqa: F401 - fixtures re-exported for this package
    DatabaseFactory,
    databases,
    no_personal_data_in_logs,
)
from foundation.world import SCOPES, START, World, build_world
from sqlalchemy import select

from yitu.access.jurisdiction import get_node
from yitu.access.principal import Principal
from yitu.access.roles import Role
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED, resolve_scope
from yitu.cases import catalog, services
from yitu.cases.config import get_case_settings
from yitu.cases.models import Department, DepartmentMember
from yitu.demo.generate import generate
from yitu.demo.load import load
from yitu.registry.models import Building

_DEMO = None


def small_demo():  # type: ignore[no-untyped-def]
    """The small demo county (seed 1), generated once per test run (deterministic)."""
    global _DEMO
    if _DEMO is None:
        _DEMO = generate("small", 1)
    return _DEMO


@pytest.fixture(scope="module")
def map_world(
    databases: DatabaseFactory,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    w = build_world(databases.fresh(), tmp_path_factory.mktemp("map"))
    load(w.platform.db, small_demo())
    yield w
    w.close()


@pytest.fixture
def fresh_map_world(
    databases: DatabaseFactory,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    """A map world of its own, for a test that writes."""
    w = build_world(databases.fresh(), tmp_path_factory.mktemp("map"))
    load(w.platform.db, small_demo())
    yield w
    w.close()


def _principal(world: World, role: Role) -> Principal:
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        scope = resolve_scope(s, [get_node(s, c).id for c in SCOPES[role]])
    return Principal(world.user_ids[role], f"u_{role.value}", role, 0, scope)


def seed_cases(world: World, n: int = 24) -> None:
    """``n`` cases reported over the three weeks before the fixture's now, through the cases
    services (the real workflow): two in three walk to 结案, the others stay open at 受理/派遣."""
    operator = _principal(world, Role.OPERATOR)
    handler = _principal(world, Role.DEPT_HANDLER)
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        points = s.execute(select(Building.lon, Building.lat).order_by(Building.id)).all()
        codes = [c.code for c in services.list_categories(s) if c.kind in ("component", "event")]
    step = max(1, len(points) // n)
    for i in range(n):
        lon, lat = points[i * step]
        at = START - timedelta(days=21) + timedelta(hours=20 * i)
        with world.platform.db.session(**{SCOPE_KEY: operator.scope}) as s:
            case = services.submit_report(
                s, category_code=codes[i % len(codes)], lon=float(lon) + 0.0003,
                lat=float(lat), description=f"示例问题 {i}", source="grid_worker", at=at,
                actor=operator,
            )
            case_id = case.id
        steps: list[tuple[str, Principal, dict[str, str]]]
        if i % 3 == 1:
            steps = [("accept", operator, {})]
        else:
            steps = [("accept", operator, {}), ("register", operator, {}),
                     ("dispatch", operator, {"department": "cgj"})]
            if i % 3 == 0:
                steps += [("handle", handler, {}), ("feedback", handler, {}),
                          ("check", operator, {}), ("close", operator, {})]
        for k, (action, actor, data) in enumerate(steps):
            with world.platform.db.session(**{SCOPE_KEY: actor.scope}) as s:
                services.transition(s, case_id, action, actor=actor, data=data,
                                    at=at + timedelta(minutes=10 * (k + 1)))


@pytest.fixture(scope="module")
def case_map_world(
    databases: DatabaseFactory,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    """The map world with the bundled case categories and departments, the department handler
    a member of three departments, and cases in every stage (``seed_cases``)."""
    get_case_settings.cache_clear()
    w = build_world(databases.fresh(), tmp_path_factory.mktemp("casemap"))
    load(w.platform.db, small_demo())
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        catalog.seed(s, START)
        handler = w.user_ids[Role.DEPT_HANDLER]
        for code in ("cgj", "hw", "swgs"):
            dept = s.scalar(select(Department).where(Department.code == code))
            assert dept is not None
            s.add(DepartmentMember(user_id=handler, department_id=dept.id))
    seed_cases(w)
    # this world files many citizen reports from the one test client: no per-IP limit on its
    # app (the limit has its own tests, test_ratelimit.py, on an app of their own)
    w.client.app.state.citizen_limiter = None
    yield w
    w.close()
