"""Web fixtures: the foundation's databases and log check, and a map county: the foundation
world (users of every role, logged in) with the small demo county loaded into it (boundaries,
grids, roads, the Han River, 2 386 buildings)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from foundation.conftest import (  # noqa: F401 - fixtures re-exported for this package
    DatabaseFactory,
    databases,
    no_personal_data_in_logs,
)
from foundation.world import START, World, build_world
from sqlalchemy import select

from yitu.access.roles import Role
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.cases import catalog
from yitu.cases import demo as case_demo
from yitu.cases.config import get_case_settings
from yitu.cases.models import Department, DepartmentMember
from yitu.demo.generate import generate
from yitu.demo.load import load

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


@pytest.fixture(scope="module")
def case_map_world(
    databases: DatabaseFactory,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    """The map world with the bundled case categories and departments, the department handler
    a member of three departments, and two months of demo cases (about 40 a month)."""
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
    case_demo.generate(w.platform.db, months=2, seed=1, now=START, per_month=40)
    yield w
    w.close()
