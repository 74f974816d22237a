"""Case KPIs (综合评价) computed from the case event log alone, in one SQL statement.

The formulas and the cohort rule are documented in ``docs/cases.md`` ("KPI formulas"); in short,
for a period P = [start, end):

* only events with ``at < end`` count, so a past period's figures never change;
* intake cohort: cases whose first event (the report) falls in P —
  受理率 = 受理数/上报数, 立案率 = 立案数/受理数, 派遣率 = 派遣数/立案数,
  准确派遣率 = 派遣后未回退数/派遣数;
* due cohort (应处置 = 应结案): dispatched cases whose disposal deadline falls in P or whose last
  处置反馈 falls in P, less those suspended (缓办) at the end of P —
  处置率, 按期处置率 (反馈 by the deadline incl. approved extensions, and 核查 passed),
  结案率, 按期结案率 (on-time disposal and 结案 by the 结案 deadline), 返工率 = 返工数/应结案数;
* event counts in P: 回退率 = 回退数/派遣数, 满意率 = (满意 + 基本满意)/回访数.

The statement is the same SQLAlchemy expression on SQLite and PostgreSQL; the only dialect
difference, turning a timestamp or an ISO string from the event's JSON into epoch seconds, is
:class:`epoch`, compiled per dialect (to the second, so both agree exactly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    and_,
    case,
    func,
    not_,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from yitu.access.models import JurisdictionNode
from yitu.access.scope import UNRESTRICTED, scope_criterion, scope_params
from yitu.cases.models import Case, CaseEvent, Department
from yitu.core.errors import InvalidInputError

#: Events that set the disposal deadline the 按期 rates are judged against: the dispatch (and a
#: re-dispatch or refused return), an approved extension, a resume after 缓办. A rework (返工)
#: or a reopen does not: a disposal that failed its check is not on time because it was redone.
HANDLE_DEADLINE_ACTIONS = ("dispatch", "refuse_return", "approve_extension", "resume")
GOOD_VISITS = ("satisfied", "basically_satisfied")


class By(StrEnum):
    TOWNSHIP = "township"
    DEPARTMENT = "department"
    GRID = "grid"


class epoch(FunctionElement[float]):  # noqa: N801 - reads as a SQL function
    """Epoch seconds (rounded) of a timestamp column or an ISO-8601 string with an offset."""

    type = Float()
    inherit_cache = True


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: Any, **kw: Any) -> str:
    # julianday() reads both SQLAlchemy's stored 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC) and ISO
    # strings with an offset (it converts them to UTC).
    arg = compiler.process(element.clauses, **kw)
    return f"ROUND((julianday({arg}) - 2440587.5) * 86400.0)"


@compiles(epoch, "postgresql")
def _epoch_pg(element: epoch, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"ROUND(EXTRACT(EPOCH FROM CAST({arg} AS TIMESTAMP WITH TIME ZONE)))"


# Counters in output order: (name, 中文).
COUNTERS: tuple[tuple[str, str], ...] = (
    ("reported", "上报数"),
    ("accepted", "受理数"),
    ("registered", "立案数"),
    ("dispatched", "派遣数 (立案批次)"),
    ("dispatched_no_return", "准确派遣数"),
    ("due", "应处置数/应结案数"),
    ("handled", "处置数"),
    ("handled_on_time", "按期处置数"),
    ("closed", "结案数"),
    ("closed_on_time", "按期结案数"),
    ("reworks", "返工数"),
    ("dispatch_events", "派遣次数"),
    ("returns", "回退数"),
    ("visits", "回访数"),
    ("satisfied", "满意数"),
)
COUNTER_NAMES = tuple(name for name, _ in COUNTERS)

# Rates: name -> (numerator, denominator, 中文).
RATES: dict[str, tuple[str, str, str]] = {
    "acceptance_rate": ("accepted", "reported", "受理率"),
    "registration_rate": ("registered", "accepted", "立案率"),
    "dispatch_rate": ("dispatched", "registered", "派遣率"),
    "dispatch_accuracy": ("dispatched_no_return", "dispatched", "准确派遣率"),
    "handling_rate": ("handled", "due", "处置率"),
    "on_time_handling_rate": ("handled_on_time", "due", "按期处置率"),
    "closure_rate": ("closed", "due", "结案率"),
    "on_time_closure_rate": ("closed_on_time", "due", "按期结案率"),
    "rework_rate": ("reworks", "due", "返工率"),
    "return_rate": ("returns", "dispatch_events", "回退率"),
    "satisfaction_rate": ("satisfied", "visits", "满意率"),
}


@dataclass
class KpiRow:
    key: int | None  # node or department id; None: not dispatched yet (by department)
    code: str
    name: str
    counts: dict[str, int]
    rates: dict[str, float | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.key,
            "code": self.code,
            "name": self.name,
            "counts": self.counts,
            "rates": self.rates,
        }


@dataclass
class KpiReport:
    start: datetime
    end: datetime
    by: By
    rows: list[KpiRow]
    total: KpiRow

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "by": self.by.value,
            "rows": [r.as_dict() for r in self.rows],
            "total": self.total.as_dict(),
        }


def rates_of(counts: dict[str, int]) -> dict[str, float | None]:
    """Each rate as a fraction (None where its denominator is zero)."""
    out: dict[str, float | None] = {}
    for name, (num, den, _) in RATES.items():
        out[name] = counts[num] / counts[den] if counts[den] else None
    return out


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def _per_case(start_s: float, end_s: float) -> Any:
    """One row per case: what its events up to the end of the period say."""
    ev = CaseEvent.__table__.c
    t = epoch(ev.at)
    in_p = t >= start_s
    due = epoch(CaseEvent.data["due_at"].as_string())
    satisfaction = CaseEvent.data["satisfaction"].as_string()

    def last(action: str) -> Any:
        return func.max(case((ev.action == action, t)))

    def has(action: str) -> Any:
        return func.max(_flag(ev.action == action))

    def count(condition: ColumnElement[bool]) -> Any:
        return func.sum(_flag(condition))

    return (
        select(
            ev.case_id.label("case_id"),
            func.min(t).label("reported_t"),
            has("accept").label("accepted"),
            has("register").label("registered"),
            has("dispatch").label("dispatched"),
            count(ev.action == "return").label("n_return"),
            count(ev.action == "rework").label("n_rework"),
            last("feedback").label("feedback_t"),
            last("check").label("check_t"),
            last("close").label("close_t"),
            last("reopen").label("reopen_t"),
            last("suspend").label("suspend_t"),
            last("resume").label("resume_t"),
            func.max(case((ev.action.in_(HANDLE_DEADLINE_ACTIONS), due))).label("handle_due_t"),
            func.max(case((ev.action == "check", due))).label("close_due_t"),
            count(and_(ev.action == "dispatch", in_p)).label("n_dispatch_p"),
            count(and_(ev.action == "return", in_p)).label("n_return_p"),
            count(and_(ev.action == "visit", in_p)).label("n_visit_p"),
            count(and_(ev.action == "visit", in_p, satisfaction.in_(GOOD_VISITS))).label(
                "n_good_visit_p"
            ),
        )
        .where(t < end_s)
        .group_by(ev.case_id)
        .subquery("per_case")
    )


def _dimension(by: By) -> Any:
    c = Case.__table__.c
    return {By.TOWNSHIP: c.township_id, By.DEPARTMENT: c.department_id, By.GRID: c.node_id}[by]


def kpi_statement(start: datetime, end: datetime, by: By, scoped: bool) -> Any:
    """The one aggregation: per-case facts (GROUP BY case) summed per dimension (GROUP BY key).
    With ``scoped`` it carries ``cases.node_id IN :yitu_scope_nodes`` (bind ``scope_params``)."""
    start_s, end_s = _epoch_of(start), _epoch_of(end)
    pc = _per_case(start_s, end_s)
    c = Case.__table__.c
    key = _dimension(by)

    def between(col: Any) -> ColumnElement[bool]:
        return and_(col >= start_s, col < end_s)

    intake = between(pc.c.reported_t)
    accepted = and_(intake, pc.c.accepted == 1)
    registered = and_(intake, pc.c.registered == 1)
    dispatched = and_(intake, pc.c.dispatched == 1)
    suspended = and_(
        pc.c.suspend_t.is_not(None),
        or_(pc.c.resume_t.is_(None), pc.c.suspend_t > pc.c.resume_t),
    )
    due = and_(
        pc.c.dispatched == 1,
        not_(suspended),
        or_(between(pc.c.handle_due_t), between(pc.c.feedback_t)),
    )
    handled = and_(due, pc.c.feedback_t.is_not(None))
    on_time = and_(
        handled,
        pc.c.check_t.is_not(None),
        pc.c.check_t >= pc.c.feedback_t,  # the last disposal passed its check
        pc.c.feedback_t <= pc.c.handle_due_t,
    )
    closed = and_(
        due,
        pc.c.close_t.is_not(None),
        or_(pc.c.reopen_t.is_(None), pc.c.close_t > pc.c.reopen_t),
    )
    closed_on_time = and_(closed, on_time, pc.c.close_t <= pc.c.close_due_t)

    def total(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(_flag(condition)), 0)

    def total_of(col: Any, condition: ColumnElement[bool] | None = None) -> Any:
        value = col if condition is None else case((condition, col), else_=0)
        return func.coalesce(func.sum(value), 0)

    columns = [
        total(intake).label("reported"),
        total(accepted).label("accepted"),
        total(registered).label("registered"),
        total(dispatched).label("dispatched"),
        total(and_(dispatched, pc.c.n_return == 0)).label("dispatched_no_return"),
        total(due).label("due"),
        total(handled).label("handled"),
        total(on_time).label("handled_on_time"),
        total(closed).label("closed"),
        total(closed_on_time).label("closed_on_time"),
        total_of(pc.c.n_rework, due).label("reworks"),
        total_of(pc.c.n_dispatch_p).label("dispatch_events"),
        total_of(pc.c.n_return_p).label("returns"),
        total_of(pc.c.n_visit_p).label("visits"),
        total_of(pc.c.n_good_visit_p).label("satisfied"),
    ]
    joined = pc.join(Case.__table__, c.id == pc.c.case_id)
    stmt = select(key.label("key"), *columns).select_from(joined)
    if scoped:
        stmt = stmt.where(scope_criterion(c))
    return stmt.group_by(key)


def _epoch_of(value: datetime) -> float:
    if value.tzinfo is None:
        raise InvalidInputError("period bounds need a time zone")
    return float(round(value.timestamp()))


def compute(
    conn: Connection, start: datetime, end: datetime, by: By | str, scope: object
) -> KpiReport:
    """KPIs for [start, end) by township, department or grid, within ``scope`` (a
    :class:`~yitu.access.scope.Scope`, or ``UNRESTRICTED`` for trusted callers)."""
    by = _by(by)
    if end <= start:
        raise InvalidInputError("to must be after from", field="to")
    scoped = scope is not UNRESTRICTED
    params = scope_params(scope) if scoped else {}
    rows = conn.execute(kpi_statement(start, end, by, scoped), params).all()
    labels = _labels(conn, by, [r.key for r in rows if r.key is not None])
    out: list[KpiRow] = []
    sums = dict.fromkeys(COUNTER_NAMES, 0)
    for r in rows:
        counts = {name: int(getattr(r, name)) for name in COUNTER_NAMES}
        for name, value in counts.items():
            sums[name] += value
        code, name = labels.get(r.key, ("", "未派遣" if by is By.DEPARTMENT else ""))
        out.append(KpiRow(r.key, code, name, counts, rates_of(counts)))
    out.sort(key=lambda row: (row.code, row.key or 0))
    total = KpiRow(None, "", "合计", sums, rates_of(sums))
    return KpiReport(start.astimezone(UTC), end.astimezone(UTC), by, out, total)


def _by(by: By | str) -> By:
    try:
        return By(by)
    except ValueError:
        raise InvalidInputError(
            "by must be township, department or grid", field="by"
        ) from None


def _labels(conn: Connection, by: By, keys: Sequence[int]) -> dict[int | None, tuple[str, str]]:
    if not keys:
        return {}
    if by is By.DEPARTMENT:
        d = Department.__table__.c
        stmt = select(d.id, d.code, d.name_zh).where(d.id.in_(keys))
    else:
        n = JurisdictionNode.__table__.c
        stmt = select(n.id, n.code, n.name).where(n.id.in_(keys))
    return {k: (code, name) for k, code, name in conn.execute(stmt)}


# Kept for callers that want the raw numbers without the dataclasses (bench, tests).
def counts_by_key(
    conn: Connection, start: datetime, end: datetime, by: By | str
) -> dict[Any, dict[str, int]]:
    report = compute(conn, start, end, by, UNRESTRICTED)
    return {row.key: row.counts for row in report.rows}


__all__ = [
    "COUNTERS",
    "RATES",
    "By",
    "KpiReport",
    "KpiRow",
    "compute",
    "counts_by_key",
    "epoch",
    "kpi_statement",
    "rates_of",
]


# --- the same formulas as a plain loop over events ------------------------------------------------


def reference_counts(
    events: Sequence[Any], case_keys: dict[int, Any], start: datetime, end: datetime
) -> dict[Any, dict[str, int]]:
    """The KPI counters by walking the events one by one in Python: the benchmark's naive peer
    and the tests' oracle for :func:`kpi_statement`. ``events``: objects with ``case_id``,
    ``at`` (aware), ``action``, ``data``; ``case_keys``: case id → dimension key."""
    start_s, end_s = _epoch_of(start), _epoch_of(end)
    facts: dict[int, dict[str, Any]] = {}
    for ev in events:
        t = float(round(_aware(ev.at).timestamp()))
        if t >= end_s:
            continue
        f = facts.setdefault(ev.case_id, {"first": t, "actions": set(), "last": {}, "n": {}})
        f["first"] = min(f["first"], t)
        f["actions"].add(ev.action)
        f["last"][ev.action] = max(f["last"].get(ev.action, t), t)
        n = f["n"]
        n[ev.action] = n.get(ev.action, 0) + 1
        in_p = t >= start_s
        due = (ev.data or {}).get("due_at")
        if due is not None:
            due_s = float(round(datetime.fromisoformat(due).timestamp()))
            if ev.action in HANDLE_DEADLINE_ACTIONS:
                f["handle_due"] = max(f.get("handle_due", due_s), due_s)
            if ev.action == "check":
                f["close_due"] = max(f.get("close_due", due_s), due_s)
        if in_p and ev.action in ("dispatch", "return", "visit"):
            n[f"{ev.action}_p"] = n.get(f"{ev.action}_p", 0) + 1
            if ev.action == "visit" and (ev.data or {}).get("satisfaction") in GOOD_VISITS:
                n["good_p"] = n.get("good_p", 0) + 1
    out: dict[Any, dict[str, int]] = {}
    for case_id, f in facts.items():
        c = out.setdefault(case_keys[case_id], dict.fromkeys(COUNTER_NAMES, 0))
        last, n, acts = f["last"], f["n"], f["actions"]
        intake = start_s <= f["first"] < end_s
        if intake:
            c["reported"] += 1
            c["accepted"] += "accept" in acts
            c["registered"] += "register" in acts
            if "dispatch" in acts:
                c["dispatched"] += 1
                c["dispatched_no_return"] += "return" not in acts
        suspended = "suspend" in last and last["suspend"] > last.get("resume", float("-inf"))
        handle_due, feedback = f.get("handle_due"), last.get("feedback")
        due = (
            "dispatch" in acts
            and not suspended
            and any(v is not None and start_s <= v < end_s for v in (handle_due, feedback))
        )
        if due:
            c["due"] += 1
            c["reworks"] += n.get("rework", 0)
            if feedback is not None:
                c["handled"] += 1
            on_time = (
                feedback is not None
                and last.get("check", float("-inf")) >= feedback
                and handle_due is not None
                and feedback <= handle_due
            )
            c["handled_on_time"] += on_time
            closed = "close" in last and last["close"] > last.get("reopen", float("-inf"))
            c["closed"] += closed
            close_due = f.get("close_due")
            c["closed_on_time"] += bool(
                closed and on_time and close_due is not None and last["close"] <= close_due
            )
        c["dispatch_events"] += n.get("dispatch_p", 0)
        c["returns"] += n.get("return_p", 0)
        c["visits"] += n.get("visit_p", 0)
        c["satisfied"] += n.get("good_p", 0)
    return out


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
