"""A year of demo cases (案件) for the loaded demo county, written as the state machine writes them.

Volume: about 1,000 cases a month at 老河口 scale (430 k residents), in proportion to the
residents loaded (the small county gets about a dozen). Patterns:

* seasonal — drainage and flooding (道路积水, 下水道, 雨水井盖/箅子, 路面塌陷) in the 梅雨/summer
  rainy season (June–August, some in May and September); ice (道路积雪结冰) only in winter;
  gas, e-bike charging and burning (燃气/电动车充电/焚烧) up in winter; barbecues and noise in
  summer; fewer reports on weekends and far fewer in the Spring Festival holiday;
* spatial — at building points (so denser in the urban core), urban 街道 weighted ×1.5;
* workflow — each case walks the state machine (``yitu.cases.workflow``): 受理 (merge of a
  likely duplicate, a few 不予受理), 核实 for public/sensor/hotline reports, 立案, 派遣 (a few
  回退 and re-dispatch), 签收, a few 延期 and 缓办, 处置反馈 (≈97 % within the disposal limit),
  核查 (a few 返工), 结案 and 回访 for public reports. Step times are fractions of each stage's
  limit on the work calendar (``WorkCalendar.add``), so they fall in working hours. A step past
  its deadline gets the sweep's 督办 (``supervise`` by ``system:sweep`` plus a supervision row).
  Cases whose next step lies after "now" stay open where they are (a few of them overdue).

Faithfulness: the timer effects call the services' own functions (``_start_stage``,
``_apply_timer``) on transient ``Case`` objects, so deadlines, ``deadlines`` and event ``data``
are exactly what ``services.transition`` would write; ``tests/cases/test_cases_demo.py`` replays
generated cases through ``submit_report``/``transition`` and compares the rows. Rows are then
bulk inserted in one transaction (ids assigned here); notifications and webhook deliveries are
not written (the demo county has no handler accounts, and year-old events must not be sent out).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import numpy as np
from sqlalchemy import Connection, func, insert, select, text, update

from yitu.access.models import JurisdictionNode
from yitu.cases import catalog, services
from yitu.cases.config import get_case_settings
from yitu.cases.models import (
    NEEDS_VERIFICATION,
    Case,
    CaseCounter,
    CaseEvent,
    Category,
    Department,
    Source,
    Supervision,
    WarningLevel,
)
from yitu.cases.routing import grid_codes
from yitu.cases.timers import WorkCalendar, default_calendar
from yitu.cases.workflow import OPEN, TABLE, Stage, State
from yitu.core.db import Database
from yitu.core.errors import InvalidInputError
from yitu.demo.names import SURNAMES
from yitu.registry.models import Building

LAOHEKOU_RESIDENTS = 430_000
LAOHEKOU_PER_MONTH = 1_000
TZ = ZoneInfo("Asia/Shanghai")
SWEEP = timedelta(minutes=5)  # the sweep runs every few minutes: 督办 follows a red light soon

# Reports per category group before seasons (relative): 街面秩序 and 市容环境 lead in practice.
GROUP_WEIGHT = {
    "E05": 3.0, "E01": 2.5, "E02": 1.2, "E03": 1.0, "E04": 0.8,
    "C01": 0.6, "C02": 0.5, "C03": 0.5, "C04": 0.4, "S01": 0.6, "S02": 0.5, "S03": 0.5,
}
RAIN = {5: 1.5, 6: 4.0, 7: 5.0, 8: 3.5, 9: 1.5}
WINTER = {12: 1.0, 1: 1.0, 2: 1.0}
SEASONAL: dict[str, Callable[[int], float]] = {
    "E0406": lambda m: RAIN.get(m, 0.3) * 2.0,  # 道路积水
    "E0404": lambda m: RAIN.get(m, 1.0),  # 下水道堵塞或破损
    "C0103": lambda m: RAIN.get(m, 1.0),  # 雨水井盖
    "C0104": lambda m: RAIN.get(m, 1.0),  # 雨水箅子
    "E0401": lambda m: math.sqrt(RAIN.get(m, 1.0)),  # 路面塌陷
    "E0407": lambda m: 6.0 if m in WINTER else 0.0,  # 道路积雪结冰: winter only
    "S0203": lambda m: 3.0 if m in (11, 12, 1, 2, 3) else 1.0,  # 燃气安全隐患 (heating)
    "S0204": lambda m: 2.5 if m in (11, 12, 1, 2) else 1.0,  # 电动车违规充电
    "E0111": lambda m: 2.5 if m in (10, 11, 12, 1, 2) else 0.7,  # 焚烧垃圾树叶
    "E0510": lambda m: 3.0 if m in (6, 7, 8, 9) else 0.5,  # 露天烧烤
    "E0508": lambda m: 1.5 if m in (6, 7, 8) else 1.0,  # 商业噪音
    "E0302": lambda m: 1.6 if m in (3, 4, 10, 11) else 1.0,  # 工地扬尘
}
SOURCES = (
    (Source.GRID_WORKER, 0.58), (Source.CITIZEN, 0.18), (Source.HOTLINE, 0.16),
    (Source.SENSOR, 0.05), (Source.OPEN311, 0.03),
)
OPEN_STATES = frozenset(s.value for s in OPEN)
VERIFIED_SOURCES = frozenset(s.value for s in NEEDS_VERIFICATION)
PHRASES = ("{}，请尽快处理", "发现{}", "{}，影响群众出行", "{}，已持续多日", "巡查发现{}")


@dataclass
class Place:
    lon: float
    lat: float
    node_id: int
    township_id: int
    node_code: str
    township_code: str
    rural: bool
    weight: float


@dataclass
class Context:
    categories: list[Category]
    weights_by_month: dict[int, np.ndarray]
    places: list[Place]
    place_p: np.ndarray
    dept_codes: dict[int, str]
    township_dept: dict[int, int]
    cal: WorkCalendar


@dataclass
class SimEvent:
    action: str
    at: datetime
    role: str
    from_state: str | None
    to_state: str
    data: dict[str, Any]
    actor: str = ""
    note: str = ""


@dataclass
class SimCase:
    case: Case
    category: Category
    place: Place
    events: list[SimEvent] = field(default_factory=list)
    supervisions: list[dict[str, Any]] = field(default_factory=list)
    end: datetime | None = None  # when it stopped being open (closed, rejected, merged)


def per_month_for(residents: int) -> int:
    return max(5, round(LAOHEKOU_PER_MONTH * residents / LAOHEKOU_RESIDENTS))


def _places(conn: Connection, rng: np.random.Generator, limit: int = 20_000) -> list[Place]:
    nodes = {
        nid: (code, path)
        for nid, code, path in conn.execute(
            select(JurisdictionNode.id, JurisdictionNode.code, JurisdictionNode.path)
        )
    }
    by_code = {code: nid for nid, (code, _) in nodes.items()}
    total = conn.scalar(select(func.count()).select_from(Building)) or 0
    if total == 0:
        raise InvalidInputError("no demo county loaded: run `yitu demo generate` first")
    step = max(1, total // limit)  # an even sample of the buildings keeps their density
    rows = conn.execute(
        select(Building.lon, Building.lat, Building.node_id)
        .where((Building.id % step) == 0)
        .order_by(Building.id)
    ).all()
    out = []
    for lon, lat, node_id in rows:
        code, path = nodes[node_id]
        parts = [p for p in path.split("/") if p]
        if len(parts) < 2:
            continue
        township = parts[1]
        rural = int(township[6:9]) >= 100
        out.append(Place(float(lon), float(lat), node_id, by_code[township], code, township,
                         rural, 1.0 if rural else 1.5))
    return out


def _context(conn: Connection, at: datetime, rng: np.random.Generator) -> Context:
    from sqlalchemy.orm import Session

    with Session(bind=conn) as session:
        session.info["yitu.scope"] = None
        categories = [
            c for c in catalog.list_categories(session, None)
            if c.kind in ("component", "event", "social")
        ]
        session.expunge_all()
    if not categories:
        raise InvalidInputError("no case categories: run `yitu cases seed` (or the API) first")
    weights = {}
    for month in range(1, 13):
        w = np.array([
            GROUP_WEIGHT.get(c.code[:3], 0.5) * SEASONAL.get(c.code, lambda _m: 1.0)(month)
            for c in categories
        ])
        weights[month] = w / w.sum()
    places = _places(conn, rng)
    p = np.array([pl.weight for pl in places])
    depts = {i: code for i, code in conn.execute(select(Department.id, Department.code))}
    township_dept = {
        nid: did
        for did, nid in conn.execute(
            select(Department.id, Department.node_id).where(Department.node_id.is_not(None))
        )
    }
    return Context(categories, weights, places, p / p.sum(), depts, township_dept,
                   default_calendar())


def _day_factor(day: date) -> float:
    holiday, name = chinese_calendar.get_holiday_detail(day)
    if holiday and name == chinese_calendar.Holiday.spring_festival.value:
        return 0.35
    if not chinese_calendar.is_workday(day):
        return 0.6
    return 1.0


class Simulator:
    """Walks cases through the state machine with the services' own timer functions."""

    def __init__(self, ctx: Context, rng: np.random.Generator, now: datetime) -> None:
        self.ctx, self.rng, self.now = ctx, rng, now
        self.by_category: dict[str, list[SimCase]] = defaultdict(list)

    # --- steps --------------------------------------------------------------------------

    def _step(self, sim: SimCase, action: str, at: datetime, actor: str, role: str,
              data: dict[str, Any] | None = None, note: str = "") -> bool:
        """Apply one transition at ``at`` if it is not in the future; False otherwise."""
        if at > self.now:
            return False
        case = sim.case
        rule = TABLE[(State(case.state), action)]
        self._sweep(sim, at)
        facts = dict(data or {})
        if rule.timer.value == "start":
            assert rule.stage is not None
            facts.update(services._start_stage(case, sim.category, rule.stage, at, self.ctx.cal,
                                               sim.place.rural))
        else:
            facts.update(services._apply_timer(None, case, sim.category, rule, at,  # type: ignore[arg-type]
                                               self.ctx.cal))
        from_state = case.state
        if rule.to is not None:
            case.state = rule.to.value
        if rule.to == State.CLOSED:
            case.closed_at = at
        case.updated_at = at
        sim.events.append(SimEvent(action, at, role, from_state, case.state, facts, actor, note))
        if case.state not in OPEN_STATES:
            sim.end = at
        return True

    def _sweep(self, sim: SimCase, before: datetime) -> None:
        """The sweep's 督办 for a deadline that passed before the next step."""
        case = sim.case
        if case.due_at is None or case.state == State.SUSPENDED or case.state not in OPEN_STATES:
            return
        due = case.due_at
        red_at = due + SWEEP
        if red_at >= before or red_at > self.now:
            return
        key = f"{case.stage}:{due.isoformat()}"
        if any(s["dedupe_key"] == key for s in sim.supervisions):
            return
        case.updated_at = red_at
        case.warning_level = WarningLevel.RED.value
        sim.events.append(SimEvent(
            "supervise", red_at, "system", case.state, case.state, {"reason": "overdue"},
            "system:sweep", f"超期: {case.stage} stage past its deadline",
        ))
        case.supervision_count += 1
        sim.supervisions.append({
            "stage": case.stage or "", "reason": "overdue", "dedupe_key": key[:64],
            "department_id": case.department_id, "due_at": due,
            "note": f"超期: {case.stage} stage past its deadline", "created_at": red_at,
        })

    def _after(self, case: Case, at: datetime, low: float, high: float) -> datetime:
        """A time ``low``–``high`` of the running stage's limit after ``at``, on the calendar."""
        entry = (case.deadlines or {}).get(case.stage or "", {})
        value, unit = float(entry.get("value", 1.0)), str(entry.get("unit", "working_hours"))
        fraction = float(self.rng.uniform(low, high))
        return self.ctx.cal.add(at, max(value * fraction, 1 / 60), unit).at

    def _ontime(self, case: Case, at: datetime, late: float, stuck: float = 0.0) -> datetime:
        r = self.rng.random()
        if r < stuck:  # the department lets it lie: long overdue (the recent ones still open)
            return self._after(case, at, 3.0, 8.0)
        if r < stuck + late:
            return self._after(case, at, 1.05, 2.2)
        return self._after(case, at, 0.1, 0.9)

    # --- one case -------------------------------------------------------------------------

    def run(self, sim: SimCase) -> None:
        case, rng = sim.case, self.rng
        centre, field_, handler = "demo:坐席", "demo:网格员", "demo:处置部门"
        t = case.created_at
        dup = self._duplicate(sim)
        case.duplicate_of = dup.case.id if dup else None
        t = self._ontime(case, t, 0.01)
        if dup is not None and rng.random() < 0.8:
            self._step(sim, "merge", t, centre, "operator",
                       {"into": dup.case.id, "into_number": dup.case.number})
            return
        if rng.random() < 0.02:
            self._step(sim, "reject", t, centre, "operator", note="不属于城市管理范畴")
            return
        if not self._step(sim, "accept", t, centre, "operator"):
            return
        if case.source in VERIFIED_SOURCES:
            t = self._ontime(case, t, 0.01)
            if rng.random() < 0.03:
                self._step(sim, "reject", t, centre, "operator", note="现场核实无此问题")
                return
            if not self._step(sim, "verify", t, field_, "grid_worker"):
                return
        t = self._ontime(case, t, 0.005)
        if not self._step(sim, "register", t, centre, "operator"):
            return
        t = self._ontime(case, t, 0.005)
        dept = self.ctx.dept_codes.get(case.department_id or -1)
        if dept is None:
            self._step(sim, "cancel", t, centre, "operator", note="无责任单位，作废")
            return
        if not self._step(sim, "dispatch", t, centre, "operator", {"department": dept}):
            return
        if rng.random() < 0.02:  # 回退: not this department's matter; re-dispatched elsewhere
            t = self._after(case, t, 0.05, 0.3)
            if not self._step(sim, "return", t, handler, "dept_handler",
                              {"department": dept}, note="非本单位职责"):
                return
            case.return_count += 1
            other = self._other_department(case)
            t = self._ontime(case, t, 0.01)
            case.department_id = other
            if not self._step(sim, "dispatch", t, centre, "operator",
                              {"department": self.ctx.dept_codes[other]}):
                return
        t = self._after(case, t, 0.02, 0.1)
        if not self._step(sim, "handle", t, handler, "dept_handler"):
            return
        if rng.random() < 0.005:  # 缓办: long-term, still suspended
            t = self._after(case, t, 0.1, 0.5)
            self._step(sim, "suspend", t, centre, "operator", note="需纳入年度改造计划")
            return
        if rng.random() < 0.01:  # 延期 requested and approved
            t = self._after(case, t, 0.3, 0.7)
            value = float(rng.choice([1.0, 2.0, 3.0]))
            entry = (case.deadlines or {}).get("handle", {})
            unit = str(entry.get("unit", "working_days"))
            if not self._step(sim, "request_extension", t, handler, "dept_handler",
                              {"value": value, "unit": unit}, note="需协调多部门"):
                return
            case.extension_pending = {"value": value, "unit": unit, "at": t.isoformat()}
            t = t + timedelta(minutes=int(rng.integers(10, 90)))
            if not self._step(sim, "approve_extension", t, centre, "operator",
                              {"value": value, "unit": unit}):
                return
        for attempt in range(3):
            t = self._ontime(case, t, 0.02 if attempt == 0 else 0.1, 0.01)
            if not self._step(sim, "feedback", t, handler, "dept_handler"):
                return
            t = self._ontime(case, t, 0.01)
            if attempt < 2 and rng.random() < 0.015:
                if not self._step(sim, "rework", t, field_, "grid_worker", note="核查未通过"):
                    return
                case.rework_count += 1
                continue
            if not self._step(sim, "check", t, field_, "grid_worker"):
                return
            break
        t = self._ontime(case, t, 0.005)
        if not self._step(sim, "close", t, centre, "operator"):
            return
        if case.source in (Source.CITIZEN, Source.HOTLINE, Source.OPEN311) and rng.random() < 0.7:
            t = t + timedelta(hours=float(rng.uniform(2, 48)))
            r = rng.random()
            satisfaction = (
                "satisfied" if r < 0.9 else "basically_satisfied" if r < 0.97 else "unsatisfied"
            )
            if self._step(sim, "visit", t, centre, "operator", {"satisfaction": satisfaction}):
                case.satisfaction = satisfaction

    def _duplicate(self, sim: SimCase) -> SimCase | None:
        """The nearest case of the category open at the report time within its radius (as
        ``services.nearby_cases``), and the repeat count (all states, last 30 days)."""
        case, at = sim.case, sim.case.created_at
        radius = sim.category.duplicate_radius_m
        best: tuple[float, SimCase] | None = None
        repeats = 0
        since = at - timedelta(days=get_case_settings().repeat_days)
        for other in self.by_category[case.category_code]:
            if other.case.created_at < since:
                continue
            d = services._distance_m(case.lon, case.lat, other.case.lon, other.case.lat)
            if d > radius:
                continue
            repeats += 1
            still_open = other.end is None or other.end > at
            if still_open and (best is None or d < best[0]):
                best = (d, other)
        case.repeat_count = repeats
        return best[1] if best else None

    def _other_department(self, case: Case) -> int:
        township = self.ctx.township_dept.get(case.township_id)
        if township is not None and township != case.department_id:
            return township
        ids = sorted(i for i in self.ctx.dept_codes if i != case.department_id)
        return int(self.rng.choice(ids))


def _report_time(rng: np.random.Generator, day: date, source: str) -> datetime:
    if source == Source.GRID_WORKER:  # patrols in working hours
        minutes = int(rng.choice([rng.integers(8 * 60 + 30, 12 * 60), rng.integers(14 * 60 + 30,
                                                                            17 * 60 + 30)]))
    else:
        minutes = int(np.clip(rng.normal(14 * 60, 200), 7 * 60, 22 * 60 + 30))
    local = datetime.combine(day, time(), TZ) + timedelta(minutes=minutes,
                                                           seconds=int(rng.integers(60)))
    return local.astimezone(UTC)


def simulate(ctx: Context, *, months: int, seed: int, per_month: int, now: datetime,
             first_id: int = 1) -> list[SimCase]:
    """Generate and walk the cases of ``months`` months ending at ``now``, in report order."""
    rng = np.random.default_rng(seed)
    sim = Simulator(ctx, rng, now)
    end_day = now.astimezone(TZ).date()
    start_day = end_day - timedelta(days=round(months * 365.25 / 12))
    days = [start_day + timedelta(days=i) for i in range((end_day - start_day).days + 1)]
    factors = {d: _day_factor(d) for d in days}
    # ``per_month`` is the monthly average: weekends and the Spring Festival only redistribute.
    per_day = per_month * 12 / 365.25 / (sum(factors.values()) / len(factors))
    cat_index = np.arange(len(ctx.categories))
    source_names = [s.value for s, _ in SOURCES]
    source_p = np.array([p for _, p in SOURCES])
    planned: list[tuple[datetime, int, Place, str]] = []
    day = start_day
    while day <= end_day:
        n = int(rng.poisson(per_day * factors[day]))
        weights = ctx.weights_by_month[day.month]
        for _ in range(n):
            category = int(rng.choice(cat_index, p=weights))
            place = ctx.places[int(rng.choice(len(ctx.places), p=ctx.place_p))]
            source = str(rng.choice(source_names, p=source_p))
            at = _report_time(rng, day, source)
            if at <= now:
                planned.append((at, category, place, source))
        day += timedelta(days=1)
    planned.sort(key=lambda p: p[0])
    out: list[SimCase] = []
    serials: dict[str, int] = defaultdict(int)
    for n, (at, ci, place, source) in enumerate(planned):
        category = ctx.categories[ci]
        out.append(_new_case(sim, ctx, category, place, source, at, first_id + n, serials))
        sim.run(out[-1])
        sim._sweep(out[-1], now)  # a deadline passed and nothing since: the sweep's 督办
        sim.by_category[category.code].append(out[-1])
    return out


def _new_case(sim: Simulator, ctx: Context, category: Category, place: Place, source: str,
              at: datetime, case_id: int, serials: dict[str, int]) -> SimCase:
    rng = sim.rng
    # At the building's own point: a point moved off it could fall in the next grid, and the
    # case's grid must be the one ``routing.locate`` finds there.
    lon, lat = place.lon, place.lat
    code, _ = grid_codes(lon, lat)
    day = at.astimezone(TZ).strftime("%Y%m%d")
    serials[day] += 1
    dept_id = category.department_id or ctx.township_dept.get(place.township_id)
    urgent = category.code.startswith("E04") and bool(rng.random() < 0.3)
    name, phone = "", ""
    if source in (Source.CITIZEN, Source.HOTLINE):
        surname = SURNAMES[int(rng.integers(min(60, len(SURNAMES))))]
        name = surname + ("先生", "女士")[int(rng.integers(2))]
        phone = f"1{int(rng.choice([3, 5, 7, 8, 9]))}{int(rng.integers(0, 10**9)):09d}"
    case = Case(
        id=case_id, number=f"{day}{serials[day]:05d}", category_id=category.id,
        category_code=category.code, kind=category.kind,
        title=f"{category.major_name_zh}/{category.name_zh}",
        description=str(rng.choice(PHRASES)).format(category.name_zh), address_text="",
        state=State.REPORTED.value, source=source, urgent=urgent, lon=lon, lat=lat, code=code,
        code3d="", node_id=place.node_id, township_id=place.township_id, department_id=dept_id,
        component_id=None, reporter_user_id=None, reporter_name=name, reporter_phone=phone,
        reporter_email="", external_ref=None, duplicate_of=None, repeat_count=0,
        rework_count=0, return_count=0, extension_count=0, supervision_count=0,
        satisfaction=None, deadlines={}, warning_level=WarningLevel.NONE.value,
        suspended_remaining_min=None, extension_pending=None, created_at=at, updated_at=at,
        closed_at=None, last_seq=0,
    )
    sim_case = SimCase(case, category, place)
    timer = services._start_stage(case, category, Stage.ACCEPT, at, ctx.cal, place.rural)
    data = {
        **timer, "category_version": category.version,
        "department": ctx.dept_codes.get(dept_id or -1), "node": place.node_code,
        "township": place.township_code, "duplicate_of": None, "repeat_count": 0, "photos": 0,
    }
    # As submit_report logs its actor: a grid worker's account, a system actor (sensor,
    # Open311 client) or the public.
    actor, role = {
        "grid_worker": ("demo:网格员", "grid_worker"),
        "sensor": ("sensor:demo", "system"),
        "open311": ("open311:demo", "system"),
    }.get(source, ("public", "public"))
    sim_case.events.append(
        SimEvent("report", at, role, None, State.REPORTED.value, data, actor)
    )
    return sim_case


def _finish(sim: SimCase, now: datetime) -> None:
    """The report event's duplicate facts, the sweep's light for open cases, counters."""
    case = sim.case
    report = sim.events[0]
    report.data["duplicate_of"] = case.duplicate_of
    report.data["repeat_count"] = case.repeat_count
    running = case.state in OPEN_STATES and case.state != State.SUSPENDED
    if running and case.due_at is not None:
        if case.due_at <= now:
            case.warning_level = WarningLevel.RED.value
        elif case.warn_at is not None and case.warn_at <= now:
            case.warning_level = WarningLevel.YELLOW.value
    case.last_seq = len(sim.events)


_CASE_COLUMNS = [c.key for c in Case.__table__.columns if c.key != "row_version"]


def _rows(sims: list[SimCase], first_event_id: int) -> tuple[list[dict[str, Any]], ...]:
    cases, events, supervisions = [], [], []
    event_id = first_event_id
    for sim in sims:
        c = sim.case
        cases.append({**{k: getattr(c, k) for k in _CASE_COLUMNS}, "row_version": c.last_seq})
        for seq, ev in enumerate(sim.events, start=1):
            events.append({
                "id": event_id, "case_id": c.id, "node_id": c.node_id, "seq": seq, "at": ev.at,
                "actor_user_id": None, "actor_external": ev.actor[:64], "role": ev.role,
                "action": ev.action, "from_state": ev.from_state, "to_state": ev.to_state,
                "note": ev.note, "data": ev.data,
            })
            event_id += 1
        for s in sim.supervisions:
            supervisions.append({**s, "case_id": c.id, "node_id": c.node_id, "created_by": None,
                                 "resolved_at": None})
    return cases, events, supervisions


def generate(
    db: Database,
    *,
    months: int = 12,
    seed: int = 1,
    now: datetime | None = None,
    per_month: int | None = None,
    audit: Callable[[Connection], None] | None = None,
) -> dict[str, int]:
    """Simulate and load the demo cases in one transaction; returns row counts. ``audit`` runs
    last inside that transaction (its audit record commits with the cases)."""
    if not 1 <= months <= 36:
        raise InvalidInputError("months must be between 1 and 36", field="months")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with db.engine.begin() as conn:
        rng = np.random.default_rng(seed + 7919)
        ctx = _context(conn, now, rng)
        if per_month is None:
            residents = conn.scalar(text("SELECT count(*) FROM person_houses")) or 0
            per_month = per_month_for(int(residents))
        first_case = (conn.scalar(select(func.max(Case.id))) or 0) + 1
        first_event = (conn.scalar(select(func.max(CaseEvent.id))) or 0) + 1
        sims = simulate(ctx, months=months, seed=seed, per_month=per_month, now=now,
                        first_id=first_case)
        for s in sims:
            _finish(s, now)
        _renumber(conn, sims)
        cases, events, supervisions = _rows(sims, first_event)
        for start in range(0, len(cases), 5_000):
            conn.execute(insert(Case), cases[start:start + 5_000])
        for start in range(0, len(events), 20_000):
            conn.execute(insert(CaseEvent), events[start:start + 20_000])
        if supervisions:
            conn.execute(insert(Supervision), supervisions)
        _counters(conn, cases)
        if conn.dialect.name == "postgresql":
            for table in ("cases", "case_events", "case_supervisions"):
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                ))
        if audit is not None:
            audit(conn)
    return {"cases": len(cases), "events": len(events), "supervisions": len(supervisions)}


def _renumber(conn: Connection, sims: list[SimCase]) -> None:
    """Serials continue after any case already numbered that day (real reports, a rerun)."""
    days = {s.case.number[:8] for s in sims}
    taken = {
        day: last
        for day, last in conn.execute(
            select(CaseCounter.day, CaseCounter.last).where(CaseCounter.day.in_(days))
        )
    }
    if not taken:
        return
    for s in sims:
        day = s.case.number[:8]
        if day in taken:
            s.case.number = f"{day}{int(s.case.number[8:]) + taken[day]:05d}"
    by_id = {s.case.id: s.case.number for s in sims}
    for s in sims:
        for ev in s.events:
            if ev.action == "merge":
                ev.data["into_number"] = by_id.get(ev.data["into"], ev.data["into_number"])


def _counters(conn: Connection, cases: list[dict[str, Any]]) -> None:
    last: dict[str, int] = {}
    for c in cases:
        day, serial = c["number"][:8], int(c["number"][8:])
        last[day] = max(last.get(day, 0), serial)
    existing = set(
        conn.scalars(select(CaseCounter.day).where(CaseCounter.day.in_(list(last))))
    )
    new = [{"day": d, "last": n} for d, n in last.items() if d not in existing]
    if new:
        conn.execute(insert(CaseCounter), new)
    for day in existing:
        conn.execute(
            update(CaseCounter).where(CaseCounter.day == day).values(last=last[day])
        )


def cases_loaded(conn: Connection) -> bool:
    return conn.execute(text("SELECT 1 FROM cases LIMIT 1")).first() is not None
