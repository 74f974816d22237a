"""KPIs over a hand-built event log with answers worked out by hand, by township, department and
grid; the period cut (events after the end do not count, local-time bounds); the API's scope."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from foundation.world import GRID_A, GRID_A2, GRID_B, TOWN_A, TOWN_B
from sqlalchemy import select

from cases.conftest import CasesWorld, make_cases_world
from yitu.access.jurisdiction import get_node
from yitu.access.roles import Role
from yitu.access.scope import UNRESTRICTED
from yitu.cases import kpi
from yitu.cases.models import Case, CaseEvent, Category, Department

P_FROM = datetime.fromisoformat("2026-11-01T00:00:00+08:00")
P_TO = datetime.fromisoformat("2026-12-01T00:00:00+08:00")


def T(day: int, hour: int, month: int = 11) -> datetime:  # noqa: N802 - reads like a time
    return datetime(2026, month, day, hour, tzinfo=UTC)


MAIN = ["accept", "verify", "register"]


def line(first: datetime, *steps: tuple[str, datetime, dict[str, Any]]) -> list[Any]:
    """report + accept + verify + register an hour apart from ``first``, then ``steps``."""
    head = [("report", first, {})] + [
        (a, first + timedelta(hours=i + 1), {}) for i, a in enumerate(MAIN)
    ]
    return head + list(steps)


def due(at: datetime, stage: str = "handle") -> dict[str, Any]:
    return {"stage": stage, "due_at": at.isoformat()}


LOG: dict[str, tuple[str, str | None, list[Any]]] = {
    # label: (grid, final department, events)
    "A": (GRID_A, "hw", line(
        T(2, 1), ("dispatch", T(2, 5), due(T(3, 5))), ("handle", T(2, 6), {}),
        ("feedback", T(3, 1), due(T(3, 2), "check")), ("check", T(3, 2), due(T(3, 6), "close")),
        ("close", T(3, 3), {}), ("visit", T(4, 1), {"satisfaction": "satisfied"}),
    )),
    "B": (GRID_A2, "hw", line(
        T(5, 1), ("dispatch", T(5, 5), due(T(6, 5))), ("handle", T(5, 6), {}),
        ("feedback", T(8, 1), {}), ("check", T(8, 2), due(T(8, 6), "close")),
        ("close", T(8, 3), {}), ("visit", T(9, 1), {"satisfaction": "unsatisfied"}),
    )),
    "C": (GRID_B, None, [
        ("report", T(10, 1), {}), ("accept", T(10, 2), {}), ("reject", T(10, 3), {}),
    ]),
    "D": (GRID_B, "hw", line(
        T(12, 1), ("dispatch", T(12, 5), {**due(T(13, 5)), "department": "cgj"}),
        ("return", T(12, 6), due(T(12, 8), "dispatch")),
        ("dispatch", T(12, 7), {**due(T(14, 5)), "department": "hw"}),
        ("handle", T(12, 8), {}), ("feedback", T(13, 1), {}), ("rework", T(13, 2), due(T(15, 1))),
        ("feedback", T(14, 1), {}), ("check", T(14, 2), due(T(14, 6), "close")),
        ("close", T(14, 3), {}),
    )),
    "E": (GRID_A, "hw", line(
        T(20, 1, 10), ("dispatch", T(21, 1, 10), due(T(2, 1))), ("handle", T(21, 2, 10), {}),
    )),
    "F": (GRID_A, "hw", line(
        T(28, 1), ("dispatch", T(28, 5), due(T(3, 1, 12))), ("handle", T(28, 6), {}),
        ("feedback", T(2, 1, 12), {}),
    )),
    "G": (GRID_A, "hw", line(
        T(15, 1), ("dispatch", T(15, 5), due(T(16, 5))), ("handle", T(15, 6), {}),
        ("suspend", T(15, 7), {"stage": "handle", "remaining_min": 60.0}),
    )),
    "H": (GRID_A2, "hw", line(
        T(20, 1), ("dispatch", T(20, 5), due(T(21, 5))), ("handle", T(20, 6), {}),
        ("request_extension", T(21, 1), {"value": 3, "unit": "working_days"}),
        ("approve_extension", T(21, 2), due(T(25, 5))),
        ("feedback", T(24, 1), {}), ("check", T(24, 2), due(T(24, 6), "close")),
        ("close", T(24, 3), {}),
    )),
    # Reported 23:00 on 30 Nov local time (in P); accepted at 01:00 on 1 Dec local (after P).
    "I": (GRID_A, None, [("report", T(30, 15), {}), ("accept", T(30, 17), {})]),
}

C = kpi.COUNTER_NAMES
TOWN_A_COUNTS = dict(zip(C, (6, 5, 5, 5, 5, 4, 3, 2, 3, 2, 0, 5, 0, 2, 1), strict=True))
TOWN_B_COUNTS = dict(zip(C, (2, 2, 1, 1, 0, 1, 1, 1, 1, 1, 1, 2, 1, 0, 0), strict=True))
TOTAL = {k: TOWN_A_COUNTS[k] + TOWN_B_COUNTS[k] for k in C}
HW = dict(zip(C, (6, 6, 6, 6, 5, 5, 4, 3, 4, 3, 1, 7, 1, 2, 1), strict=True))
NO_DEPT = dict(zip(C, (2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), strict=True))
GRID_A_COUNTS = dict(zip(C, (4, 3, 3, 3, 3, 2, 1, 1, 1, 1, 0, 3, 0, 1, 1), strict=True))
GRID_A2_COUNTS = dict(zip(C, (2, 2, 2, 2, 2, 2, 2, 1, 2, 1, 0, 2, 0, 1, 0), strict=True))


@dataclass
class KpiWorld:
    cw: CasesWorld
    ids: dict[str, int]


def build_log(cw: CasesWorld, log: dict[str, tuple[str, str | None, list[Any]]]) -> dict[str, int]:
    ids: dict[str, int] = {}
    with cw.session() as s:
        category = s.scalar(select(Category).where(Category.code == "E0102"))
        assert category is not None
        depts = {d.code: d.id for d in s.scalars(select(Department))}
        for n, (label, (grid_code, dept, events)) in enumerate(log.items()):
            grid = get_node(s, grid_code)
            town = get_node(s, TOWN_B if grid_code == GRID_B else TOWN_A)
            first = events[0][1]
            case = Case(
                number=f"20261101{n:05d}", category_id=category.id, category_code="E0102",
                kind="event", title="t", description="d", state=events[-1][0], source="citizen",
                lon=111.66, lat=32.37, code=0, node_id=grid.id, township_id=town.id,
                department_id=depts[dept] if dept else None, deadlines={}, created_at=first,
                updated_at=events[-1][1], last_seq=len(events),
            )
            s.add(case)
            s.flush()
            ids[label] = case.id
            for seq, (action, at, data) in enumerate(events, start=1):
                s.add(CaseEvent(
                    case_id=case.id, node_id=grid.id, seq=seq, at=at, role="operator",
                    action=action, from_state=None, to_state=action, note="", data=data,
                ))
    return ids


@pytest.fixture(scope="module")
def kw(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KpiWorld]:
    cw = make_cases_world(databases.fresh(), tmp_path_factory.mktemp("kpi"))
    yield KpiWorld(cw, build_log(cw, LOG))
    cw.world.close()


def compute(kw: KpiWorld, by: str, scope: object = UNRESTRICTED) -> kpi.KpiReport:
    with kw.cw.platform.db.engine.connect() as conn:
        return kpi.compute(conn, P_FROM, P_TO, by, scope)


def by_code(report: kpi.KpiReport) -> dict[str, dict[str, int]]:
    return {row.code: row.counts for row in report.rows}


def test_by_township(kw: KpiWorld) -> None:
    report = compute(kw, "township")
    assert by_code(report) == {TOWN_A: TOWN_A_COUNTS, TOWN_B: TOWN_B_COUNTS}
    assert report.total.counts == TOTAL
    r = report.total.rates
    assert r["acceptance_rate"] == 7 / 8
    assert r["registration_rate"] == 6 / 7
    assert r["dispatch_rate"] == 1.0
    assert r["dispatch_accuracy"] == 5 / 6
    assert r["handling_rate"] == 4 / 5
    assert r["on_time_handling_rate"] == 3 / 5
    assert r["closure_rate"] == 4 / 5
    assert r["on_time_closure_rate"] == 3 / 5
    assert r["rework_rate"] == 1 / 5
    assert r["return_rate"] == 1 / 7
    assert r["satisfaction_rate"] == 1 / 2
    town_b = next(row for row in report.rows if row.code == TOWN_B)
    assert town_b.name == "孟楼镇" and town_b.rates["satisfaction_rate"] is None  # no visits


def test_by_department(kw: KpiWorld) -> None:
    report = compute(kw, "department")
    assert by_code(report) == {"hw": HW, "": NO_DEPT}
    assert next(r for r in report.rows if r.code == "").name == "未派遣"
    assert report.total.counts == TOTAL


def test_by_grid(kw: KpiWorld) -> None:
    report = compute(kw, "grid")
    assert by_code(report) == {
        GRID_A: GRID_A_COUNTS, GRID_A2: GRID_A2_COUNTS, GRID_B: TOWN_B_COUNTS,
    }


def test_the_same_formulas_as_a_loop(kw: KpiWorld) -> None:
    with kw.cw.session() as s:
        events = s.scalars(select(CaseEvent).order_by(CaseEvent.id)).all()
        keys = {c.id: c.township_id for c in s.scalars(select(Case))}
    loop = kpi.reference_counts(events, keys, P_FROM, P_TO)
    sql = compute(kw, "township")
    assert {row.key: row.counts for row in sql.rows} == loop


def test_periods(kw: KpiWorld) -> None:
    with kw.cw.platform.db.engine.connect() as conn:
        # October: E was reported and dispatched then, due in November: only intake counts.
        october = kpi.compute(conn, datetime.fromisoformat("2026-10-01T00:00:00+08:00"), P_FROM,
                              "township", UNRESTRICTED)
        assert october.total.counts["reported"] == 1
        assert october.total.counts["dispatched"] == 1
        assert october.total.counts["due"] == 0
        # First week of November: A and B reported; A due (3 Nov) and on time; B due 6 Nov.
        week = kpi.compute(conn, P_FROM, datetime.fromisoformat("2026-11-08T00:00:00+08:00"),
                           "township", UNRESTRICTED)
        c = week.total.counts
        assert (c["reported"], c["due"], c["handled"], c["handled_on_time"]) == (2, 3, 1, 1)
        # E (due 2 Nov) and B (due 6 Nov, disposed only on 8 Nov) are due but not handled.
        with pytest.raises(Exception, match="to must be after from"):
            kpi.compute(conn, P_TO, P_FROM, "township", UNRESTRICTED)
        with pytest.raises(Exception, match="by must be"):
            kpi.compute(conn, P_FROM, P_TO, "village", UNRESTRICTED)


def test_api_scoped_to_the_caller(kw: KpiWorld) -> None:
    client, world = kw.cw.world.client, kw.cw.world
    params = {"from": "2026-11-01", "to": "2026-11-30", "by": "township"}
    r = client.get("/api/v1/cases/kpi", params=params, headers=world.headers(Role.OPERATOR))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["from"] == "2026-10-31T16:00:00+00:00" and body["to"] == "2026-11-30T16:00:00+00:00"
    assert {row["code"]: row["counts"] for row in body["rows"]} == {
        TOWN_A: TOWN_A_COUNTS, TOWN_B: TOWN_B_COUNTS,
    }
    assert body["total"]["rates"]["on_time_handling_rate"] == 3 / 5
    # A township officer of 光化街道 sees their township only; a grid worker their grid.
    officer = client.get("/api/v1/cases/kpi", params=params,
                         headers=world.headers(Role.TOWNSHIP_OFFICER)).json()
    assert [row["code"] for row in officer["rows"]] == [TOWN_A]
    grid = client.get("/api/v1/cases/kpi", params={**params, "by": "grid"},
                      headers=world.headers(Role.GRID_WORKER)).json()
    assert {row["code"]: row["counts"] for row in grid["rows"]} == {GRID_A: GRID_A_COUNTS}
    # Admin roles hold no case permission.
    assert client.get("/api/v1/cases/kpi", headers=world.headers(Role.SYS_ADMIN)).status_code == 403
    assert client.get("/api/v1/cases/kpi").status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"by": "village"}, "by"),
        ({"from": "November"}, "from"),
        ({"from": "2026-11-05", "to": "2026-11-01"}, "to"),
        ({"from": "2026-11-05T00:00:00"}, "from"),
        ({"from": "2020-01-01", "to": "2026-11-01"}, "to"),
    ],
)
def test_api_bad_input_names_the_field(kw: KpiWorld, params: dict[str, str], field: str) -> None:
    world = kw.cw.world
    r = world.client.get("/api/v1/cases/kpi", params=params, headers=world.headers(Role.OPERATOR))
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert field in [e["field"].split(".")[-1] for e in r.json()["errors"]]
