"""Cases fixtures: the foundation's databases and log check, the registry's fixture county
(grid boundaries for routing), the bundled categories and departments, and department members."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from foundation.conftest import (  # noqa: F401 - fixtures re-exported for this package
    DatabaseFactory,
    databases,
    no_personal_data_in_logs,
)
from foundation.world import SCOPES, START, World, build_world
from registry.county import build_county
from sqlalchemy import select

from yitu.access.jurisdiction import get_node
from yitu.access.principal import Principal
from yitu.access.roles import Role
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED, resolve_scope
from yitu.cases import catalog
from yitu.cases.config import get_case_settings
from yitu.cases.models import Department, DepartmentMember

# Inside the fixture county's grids (GRID_A: 111.660–111.672; GRID_B: 111.684–111.700).
IN_A = (111.6650, 32.3750)
IN_NEIGHBOUR = (111.6780, 32.3750)
IN_B = (111.6900, 32.3800)
OUTSIDE = (112.5000, 33.0000)


@dataclass
class CasesWorld:
    world: World
    evidence_dir: Path

    @property
    def platform(self):  # type: ignore[no-untyped-def]
        return self.world.platform

    def principal(self, role: Role) -> Principal:
        with self.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
            roots = [get_node(s, c).id for c in SCOPES[role]]
            scope = resolve_scope(s, roots)
        return Principal(self.world.user_ids[role], f"u_{role.value}", role, 0, scope)

    def session(self, role: Role | None = None):  # type: ignore[no-untyped-def]
        scope = UNRESTRICTED if role is None else self.principal(role).scope
        return self.platform.db.session(**{SCOPE_KEY: scope})


def make_cases_world(url: str, data_dir: Path) -> CasesWorld:
    get_case_settings.cache_clear()
    w = build_world(url, data_dir)
    build_county(w)
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        catalog.seed(s, START)
        handler = w.user_ids[Role.DEPT_HANDLER]
        for code in ("cgj", "hw", "swgs"):
            dept = s.scalar(select(Department).where(Department.code == code))
            assert dept is not None
            s.add(DepartmentMember(user_id=handler, department_id=dept.id))
    return CasesWorld(w, data_dir / "evidence")


@pytest.fixture(scope="module")
def cases_world(
    databases: DatabaseFactory,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[CasesWorld]:
    cw = make_cases_world(databases.fresh(), tmp_path_factory.mktemp("cases"))
    yield cw
    cw.world.close()


@pytest.fixture
def fresh_cases(databases: DatabaseFactory, tmp_path: Path) -> Iterator[CasesWorld]:  # noqa: F811
    cw = make_cases_world(databases.fresh(), tmp_path)
    yield cw
    cw.world.close()
