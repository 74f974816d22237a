"""Demo cases: the rows the generator writes are the rows the state machine writes (a replay
through ``submit_report``/``transition`` gives the same events and case fields), the patterns
hold (seasons, on-time rate, a few overdue), the KPIs over them match the loop, and the load is
all-or-nothing and deterministic."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from foundation.world import START
from sqlalchemy import func, select

from cases.conftest import CasesWorld, make_cases_world
from yitu.access.principal import Principal
from yitu.access.roles import Role
from yitu.access.scope import resolve_scope
from yitu.cases import demo, kpi, services
from yitu.cases.models import (
    Case,
    CaseCounter,
    CaseEvent,
    Department,
    DepartmentMember,
    WarningLevel,
)

CENTRE = {"accept", "reject", "merge", "register", "dispatch", "refuse_return", "cancel",
          "approve_extension", "deny_extension", "suspend", "resume", "close", "visit", "reopen"}
FIELD = {"verify", "check", "rework"}
HANDLER = {"handle", "return", "feedback", "request_extension"}
CASE_FIELDS = (
    "state", "stage", "stage_started_at", "warn_at", "due_at", "handle_due_at", "deadlines",
    "duplicate_of", "repeat_count", "rework_count", "return_count", "extension_count",
    "supervision_count", "satisfaction", "closed_at", "updated_at", "department_id", "node_id",
    "township_id", "code", "urgent", "last_seq", "number", "category_id", "source", "created_at",
    "extension_pending", "suspended_remaining_min",
)


def _county_principal(cw: CasesWorld, role: Role) -> Principal:
    with cw.session() as s:
        from yitu.access.jurisdiction import get_node

        scope = resolve_scope(s, [get_node(s, "420682000000").id])
    return Principal(cw.world.user_ids[role], f"u_{role.value}", role, 0, scope)


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _events(cw: CasesWorld) -> dict[int, list[tuple[Any, ...]]]:
    out: dict[int, list[tuple[Any, ...]]] = {}
    with cw.session() as s:
        for ev in s.scalars(select(CaseEvent).order_by(CaseEvent.case_id, CaseEvent.seq)):
            out.setdefault(ev.case_id, []).append(
                (ev.seq, _aware(ev.at), ev.role, ev.action, ev.from_state, ev.to_state, ev.data)
            )
    return out


def _instants(deadlines: dict[str, Any]) -> dict[str, Any]:
    """Deadline entries with their times as instants: after an extension the services write
    ``warn`` from the case row, which SQLite hands back without its zone."""
    return {
        stage: {k: (_aware(datetime.fromisoformat(v)) if k in ("started", "due", "warn") else v)
                for k, v in entry.items()}
        for stage, entry in (deadlines or {}).items()
    }


def _cases(cw: CasesWorld) -> dict[int, dict[str, Any]]:
    with cw.session() as s:
        return {
            c.id: {
                f: _instants(c.deadlines) if f == "deadlines" else _aware(getattr(c, f))
                for f in CASE_FIELDS
            }
            for c in s.scalars(select(Case).order_by(Case.id))
        }


def _replay(cw: CasesWorld, generated: CasesWorld) -> None:
    """Every generated event, in time order, through the real services."""
    operator = _county_principal(cw, Role.OPERATOR)
    grid = _county_principal(cw, Role.GRID_WORKER)
    handler = _county_principal(cw, Role.DEPT_HANDLER)
    with cw.session() as s:
        have = set(s.scalars(select(DepartmentMember.department_id)))
        for dept in s.scalars(select(Department)):
            if dept.id not in have:
                s.add(DepartmentMember(user_id=handler.user_id, department_id=dept.id))
    with generated.session() as s:
        cases = {c.id: c for c in s.scalars(select(Case))}
        events = sorted(s.scalars(select(CaseEvent)), key=lambda e: (_aware(e.at), e.id))
        s.expunge_all()
    for ev in events:
        case = cases[ev.case_id]
        at = _aware(ev.at)
        with cw.session() as s:
            if ev.action == "report":
                actor: Any = {
                    "grid_worker": grid, "citizen": None, "hotline": None,
                }.get(case.source, services.SystemActor(ev.actor_external))
                made = services.submit_report(
                    s, category_code=case.category_code, lon=case.lon, lat=case.lat,
                    description=case.description, source=case.source, at=at, actor=actor,
                    urgent=case.urgent,
                    reporter={"name": case.reporter_name, "phone": case.reporter_phone},
                )
                assert made.id == case.id
                continue
            if ev.action == "supervise":
                replayed = services.transition(
                    s, case.id, "supervise", actor=services.SystemActor("system:sweep"),
                    note=ev.note, data={"reason": "overdue"}, at=at,
                )
                replayed.warning_level = WarningLevel.RED.value  # as the sweep sets it
                continue
            actor = operator if ev.action in CENTRE else grid if ev.action in FIELD else handler
            data = {k: v for k, v in ev.data.items()
                    if k in ("department", "into", "value", "unit", "satisfaction")}
            if ev.action == "return":
                data = {}
            services.transition(s, case.id, ev.action, actor=actor, note=ev.note or None,
                                data=data, at=at)


@pytest.fixture(scope="module")
def generated(databases: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    cw = make_cases_world(databases.fresh(), tmp_path_factory.mktemp("demo_gen"))
    counts = demo.generate(cw.platform.db, months=2, seed=4, now=START, per_month=200)
    yield cw, counts
    cw.world.close()


def test_rows_are_what_the_state_machine_writes(
    generated: Any, databases: Any, tmp_path: Any
) -> None:
    cw, counts = generated
    assert counts["cases"] > 100 and counts["events"] > 5 * counts["cases"]
    replay = make_cases_world(databases.fresh(), tmp_path)
    try:
        _replay(replay, cw)
        mine_ev, theirs_ev = _events(cw), _events(replay)
        for case_id, evs in mine_ev.items():
            for a, b in zip(evs, theirs_ev.get(case_id, []), strict=False):
                assert a == b, (case_id, a, b)
        assert theirs_ev == mine_ev
        mine, theirs = _cases(cw), _cases(replay)
        assert mine.keys() == theirs.keys()
        for case_id, fields in mine.items():
            for name in CASE_FIELDS:
                assert fields[name] == theirs[case_id][name], (case_id, name)
    finally:
        replay.world.close()


def test_workflow_mix_and_timeliness(generated: Any) -> None:
    cw, _ = generated
    with cw.session() as s:
        actions = Counter(s.scalars(select(CaseEvent.action)))
        states = Counter(s.scalars(select(Case.state)))
        supervised = s.scalar(select(func.count(func.distinct(CaseEvent.case_id))).where(
            CaseEvent.action == "supervise"))
    # Every side line is in the sample, so the replay test covers it too.
    for action in ("report", "accept", "verify", "register", "dispatch", "handle", "feedback",
                   "check", "close", "visit", "merge", "reject", "return", "request_extension",
                   "approve_extension", "suspend", "rework", "supervise"):
        assert actions[action] > 0, action
    assert states["closed"] > 0.7 * sum(states.values())
    assert supervised is not None and supervised >= 1  # a few went overdue (督办)
    with cw.platform.db.engine.connect() as conn:
        report = kpi.compute(conn, START - timedelta(days=60), START, "township",
                             services_scope())
    rates = report.total.rates
    assert rates["on_time_handling_rate"] is not None and rates["on_time_handling_rate"] >= 0.9
    assert rates["closure_rate"] is not None and rates["closure_rate"] >= 0.9


def services_scope() -> Any:
    from yitu.access.scope import UNRESTRICTED

    return UNRESTRICTED


def test_kpi_sql_matches_the_loop_on_generated_logs(generated: Any) -> None:
    cw, _ = generated
    with cw.session() as s:
        events = s.scalars(select(CaseEvent)).all()
        keys = {by: {} for by in ("township", "department", "grid")}
        for c in s.scalars(select(Case)):
            keys["township"][c.id] = c.township_id
            keys["department"][c.id] = c.department_id
            keys["grid"][c.id] = c.node_id
    with cw.platform.db.engine.connect() as conn:
        for days_back, length in ((60, 60), (45, 14), (30, 7), (10, 3)):
            start = START - timedelta(days=days_back)
            end = start + timedelta(days=length)
            for by in ("township", "department", "grid"):
                sql = kpi.compute(conn, start, end, by, services_scope())
                loop = kpi.reference_counts(events, keys[by], start, end)
                assert {r.key: r.counts for r in sql.rows} == loop, (days_back, by)


def test_seasons() -> None:
    july = dict(zip((c for c in demo.SEASONAL), (demo.SEASONAL[c](7) for c in demo.SEASONAL),
                    strict=True))
    january = {c: demo.SEASONAL[c](1) for c in demo.SEASONAL}
    assert july["E0406"] > 5 * january["E0406"]  # 道路积水 in the rainy season
    assert january["E0407"] > 0 and july["E0407"] == 0  # ice only in winter
    assert january["S0203"] > july["S0203"]  # gas hazards in the heating season
    assert demo._day_factor(datetime(2026, 2, 17).date()) < demo._day_factor(
        datetime(2026, 3, 17).date()
    )


def test_deterministic_and_numbered_after_existing(
    databases: Any, tmp_path: Any
) -> None:
    a = make_cases_world(databases.fresh(), tmp_path / "a")
    b = make_cases_world(databases.fresh(), tmp_path / "b")
    try:
        demo.generate(a.platform.db, months=1, seed=9, now=START, per_month=40)
        demo.generate(b.platform.db, months=1, seed=9, now=START, per_month=40)
        assert _events(a) == _events(b)
        assert _cases(a) == _cases(b)
        # A second run adds to the first: numbers continue, counters follow.
        demo.generate(a.platform.db, months=1, seed=10, now=START, per_month=40)
        with a.session() as s:
            numbers = list(s.scalars(select(Case.number)))
            assert len(numbers) == len(set(numbers))
            last = max(numbers)
            counter = s.scalar(select(CaseCounter.last).where(CaseCounter.day == last[:8]))
            assert counter == int(last[8:])
            # A real report afterwards gets the next free number of its day.
            fresh = services.submit_report(
                s, category_code="E0102", lon=111.665, lat=32.375, description="after demo",
                source="citizen", at=START,
            )
            assert fresh.number not in numbers
    finally:
        a.world.close()
        b.world.close()


def test_failure_stores_nothing(databases: Any, tmp_path: Any) -> None:
    cw = make_cases_world(databases.fresh(), tmp_path)
    try:
        with pytest.raises(Exception, match="months"):
            demo.generate(cw.platform.db, months=0, now=START)
        # A clash in the middle of the load (a taken case id) rolls the whole load back.
        with cw.session() as s:
            services.submit_report(s, category_code="E0102", lon=111.665, lat=32.375,
                                   description="x", source="citizen", at=START)
        before = _cases(cw)
        original = demo._rows

        def clash(sims: Any, first_event_id: int) -> Any:
            cases, events, sups = original(sims, first_event_id)
            cases[-1]["id"] = 1  # collides with the case above
            return cases, events, sups

        demo._rows = clash
        try:
            with pytest.raises(Exception):  # noqa: B017 - the database's integrity error
                demo.generate(cw.platform.db, months=1, seed=1, now=START, per_month=30)
        finally:
            demo._rows = original
        assert _cases(cw) == before
        with cw.session() as s:
            assert s.scalar(select(func.count()).select_from(CaseEvent)) == 1
    finally:
        cw.world.close()
