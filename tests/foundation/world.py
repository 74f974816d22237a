"""A small, real county for tests: grids, people in them, one user per role, logged in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from yitu.access import users
from yitu.access.jurisdiction import add_node, get_node
from yitu.access.models import Level, User
from yitu.access.roles import ADMIN_ROLES, Role
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.api.app import create_app
from yitu.core.clock import ManualClock
from yitu.core.settings import Settings
from yitu.people.idnumber import make_id_number
from yitu.people.models import Person
from yitu.runtime import Platform

AUDIT_KEY = "test-audit-key-0123456789abcdef"
PASSWORD = "Secret-pass-2026"
START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

# Places (12-digit division codes; grids add a 3-digit serial).
COUNTY = "420682000000"
TOWN_A = "420682001000"  # 光化街道
VILLAGE_A1 = "420682001001"  # 小东门居委会
VILLAGE_A2 = "420682001002"  # 胜利路居委会
TOWN_B = "420682100000"  # 孟楼镇
VILLAGE_B1 = "420682100001"  # 孟楼居委会
GRID_A = "420682001001001"
GRID_NEIGHBOUR = "420682001001002"  # same village, next grid
GRID_A2 = "420682001002001"
GRID_B = "420682100001001"

GRIDS = {
    GRID_A: (VILLAGE_A1, "小东门第一网格"),
    GRID_NEIGHBOUR: (VILLAGE_A1, "小东门第二网格"),
    GRID_A2: (VILLAGE_A2, "胜利路第一网格"),
    GRID_B: (VILLAGE_B1, "孟楼第一网格"),
}

# Scope of each role's test user.
SCOPES: dict[Role, list[str]] = {
    Role.OPERATOR: [COUNTY],
    Role.DEPT_HANDLER: [COUNTY],
    Role.TOWNSHIP_OFFICER: [TOWN_A],
    Role.GRID_WORKER: [GRID_A],
    Role.ELDERCARE_OPERATOR: [TOWN_A],
    Role.MEDIATOR: [VILLAGE_A1],
    Role.COURT_LIAISON: [COUNTY],
    Role.SYS_ADMIN: [],
    Role.SEC_ADMIN: [],
    Role.AUDIT_ADMIN: [],
}

SURNAMES = "张王李赵刘陈杨黄"
GIVEN = ["建国", "秀英", "明", "志强", "丽", "国华"]


def make_platform(url: str, data_dir: Path, clock: ManualClock | None = None) -> Platform:
    settings = Settings(database_url=url, data_dir=data_dir, audit_key=AUDIT_KEY, _env_file=None)
    return Platform.build(settings, clock or ManualClock(START))


@dataclass
class PersonFixture:
    id: int
    grid: str
    name: str
    id_number: str
    phone: str
    address: str


@dataclass
class World:
    platform: Platform
    client: TestClient
    clock: ManualClock
    people: list[PersonFixture] = field(default_factory=list)
    tokens: dict[Role, str] = field(default_factory=dict)
    user_ids: dict[Role, int] = field(default_factory=dict)

    def headers(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def people_in(self, *grids: str) -> list[PersonFixture]:
        return [p for p in self.people if p.grid in grids]

    def login(self, username: str, password: str = PASSWORD) -> str:
        response = self.client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["token"])

    def close(self) -> None:
        self.client.close()
        self.platform.db.dispose()


def _seed_people(platform: Platform) -> list[PersonFixture]:
    seeded: list[PersonFixture] = []
    n = 0
    with platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        for grid_code in GRIDS:
            grid = get_node(session, grid_code)
            for i in range(3):
                n += 1
                birth = date(1940 + n * 3, (n % 12) + 1, (n % 27) + 1)
                person = Person(
                    name=SURNAMES[n % len(SURNAMES)] + GIVEN[n % len(GIVEN)],
                    id_number=make_id_number("420682", birth, 100 + n),
                    phone=f"139{n:04d}{8000 + n:04d}",
                    address=f"光化街道小东门社区幸福小区{i + 1}栋{n}单元{100 + n}室",
                    gender="M" if n % 2 else "F",
                    birth_date=birth,
                    node_id=grid.id,
                    created_at=START,
                )
                session.add(person)
                session.flush()
                seeded.append(
                    PersonFixture(
                        person.id,
                        grid_code,
                        person.name,
                        person.id_number,
                        person.phone,
                        person.address,
                    )
                )
    return seeded


def build_world(url: str, data_dir: Path) -> World:
    clock = ManualClock(START)
    platform = make_platform(url, data_dir, clock)
    with platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        for code, (village, name) in GRIDS.items():
            add_node(session, code, name, Level.GRID, get_node(session, village))
        for role, scope in SCOPES.items():
            users.create_user(
                session,
                clock,
                f"u_{role.value}",
                PASSWORD,
                role=role,
                scope_codes=scope,
                must_change_password=False,
            )
    world = World(platform, TestClient(create_app(platform)), clock, _seed_people(platform))
    with platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        for user in session.scalars(select(User)):
            world.user_ids[Role(user.role)] = user.id
    for role in Role:
        world.tokens[role] = world.login(f"u_{role.value}")
    assert set(world.tokens) == set(Role)
    assert all(not SCOPES[r] for r in ADMIN_ROLES)
    return world
