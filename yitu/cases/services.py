"""Case services: the entry points every caller (API, CLI, Open311 façade, demo, sweeps) uses.

* :func:`submit_report` — validate everything, locate and route, check duplicates, allocate the
  case number, start the 受理 clock, store photos, log the ``report`` event;
* :func:`transition` — the single entry point to the state machine (``workflow.TABLE``): role,
  jurisdiction and department checks, guards, timer effects, the event, notifications;
* :func:`get_case`, :func:`case_events`, :func:`list_categories`, :func:`sweep`.

None of them commits: the caller's transaction (``Database.session()``) holds the case, its
event, its photos' rows, its notifications and its webhook outbox rows, so a failure anywhere
stores nothing (photo files written by a rolled-back transaction are deleted again).

Jurisdiction: cases are ``Jurisdictional``; a scoped session sees only its scope's cases, so a
case outside it is "not found", exactly like a missing one. An ``actor`` that is a
:class:`~yitu.access.principal.Principal` is also checked explicitly (defence in depth: the
caller may hold an unrestricted session).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from yitu.access.models import JurisdictionNode
from yitu.access.principal import Principal
from yitu.access.roles import Role
from yitu.cases import catalog, evidence, notify, routing
from yitu.cases.config import get_case_settings
from yitu.cases.errors import field_error
from yitu.cases.models import (
    NEEDS_VERIFICATION,
    Case,
    CaseCounter,
    CaseEvent,
    Category,
    Department,
    DepartmentMember,
    Source,
    Supervision,
    TimeUnit,
    WarningLevel,
)
from yitu.cases.timers import WorkCalendar, default_calendar, local_day
from yitu.cases.workflow import (
    DEFAULT_LIMITS,
    INITIAL_STAGE,
    OPEN,
    SYSTEM,
    Rule,
    Stage,
    State,
    Timer,
    actions_from,
    rule_for,
)
from yitu.core.clock import as_utc
from yitu.core.errors import ConflictError, ForbiddenError, NotFoundError
from yitu.registry.spatial import code_range_clause, ranges_for_bbox

M_PER_DEG = 111_320.0
_TRUSTED = {"yitu_trusted": True}
SATISFACTION = ("satisfied", "basically_satisfied", "unsatisfied")


@dataclass(frozen=True)
class SystemActor:
    """A non-account actor: ``system:sweep``, ``open311:<key name>``, ``sensor:<id>``. May do
    only what the table grants the ``system`` role (and report)."""

    name: str
    role: str = SYSTEM


Actor = Principal | SystemActor | None


@dataclass(frozen=True)
class Reporter:
    """Contact of the person reporting (personal data: masked on output, reads audited)."""

    name: str = ""
    phone: str = ""
    email: str = ""


def _now(at: datetime | None) -> datetime:
    return as_utc(at) if at is not None else datetime.now(UTC)


def _actor_fields(actor: Actor) -> tuple[int | None, str, str]:
    """(user id, external name, role) for the event log."""
    if isinstance(actor, Principal):
        return actor.user_id, "", str(actor.role or "")
    if isinstance(actor, SystemActor):
        return None, actor.name[:64], actor.role
    return None, "public", "public"


# --- categories --------------------------------------------------------------------------


def list_categories(session: Session, *, at: datetime | None = None) -> list[Category]:
    """Categories in force at ``at`` (default: now), by code."""
    return catalog.list_categories(session, at)


# --- time limits -------------------------------------------------------------------------


def stage_limit(category: Category, stage: str, urgent: bool, rural: bool) -> tuple[float, str]:
    """``(value, unit)`` for a stage: the category's own limit for the grade, else (urgent) the
    category's normal disposal limit for ``handle`` or the workflow's urgent default, else the
    workflow default. 核实/核查 limits grow by ``rural_factor`` in 镇/乡."""
    limits = category.time_limits or {}
    grade = "urgent" if urgent else "normal"
    spec = (limits.get(grade) or {}).get(stage)
    if spec is None and urgent and stage == Stage.HANDLE:
        spec = (limits.get("normal") or {}).get(stage)
    if spec is None:
        spec = (limits.get("normal") or {}).get(stage) if not urgent else None
    if spec is None:
        spec = DEFAULT_LIMITS[grade][stage]
    value, unit = float(spec[0]), str(spec[1])
    if rural and stage in (Stage.VERIFY, Stage.CHECK):
        value *= get_case_settings().rural_factor
    return value, unit


def _start_stage(
    case: Case, category: Category, stage: Stage, at: datetime, cal: WorkCalendar, rural: bool
) -> dict[str, Any]:
    value, unit = stage_limit(category, stage, case.urgent, rural)
    due = cal.add(at, value, unit)
    warn = cal.add(at, value * get_case_settings().warn_fraction, unit)
    _set_clock(case, stage, at, warn.at, due.at, unit, value, due.provisional)
    return {"stage": stage.value, "due_at": due.at.isoformat(), "limit": [value, unit]}


def _set_clock(
    case: Case,
    stage: str,
    started: datetime,
    warn: datetime,
    due: datetime,
    unit: str,
    value: float,
    provisional: bool,
) -> None:
    case.stage = stage
    case.stage_started_at = started
    case.warn_at = warn
    case.due_at = due
    case.warning_level = WarningLevel.NONE.value
    if stage == Stage.HANDLE:
        case.handle_due_at = due
    deadlines = dict(case.deadlines or {})
    deadlines[stage] = {
        "started": started.isoformat(),
        "due": due.isoformat(),
        "warn": warn.isoformat(),
        "value": value,
        "unit": unit,
        "provisional": provisional,
    }
    case.deadlines = deadlines


def _stop_clock(case: Case) -> None:
    case.stage = None
    case.stage_started_at = None
    case.warn_at = None
    case.due_at = None
    case.warning_level = WarningLevel.NONE.value


# --- numbers -----------------------------------------------------------------------------


def _next_number(session: Session, at: datetime) -> str:
    """``yyyymmdd`` (local day) + 5-digit serial, from a per-day counter row updated in the
    transaction (PostgreSQL row lock / SQLite write lock: concurrent reports never collide)."""
    day = local_day(at, get_case_settings().timezone).strftime("%Y%m%d")
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(CaseCounter).values(day=day, last=0).on_conflict_do_nothing())
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(
            sqlite_insert(CaseCounter).values(day=day, last=0).on_conflict_do_nothing()
        )
    serial = session.execute(
        update(CaseCounter)
        .where(CaseCounter.day == day)
        .values(last=CaseCounter.last + 1)
        .returning(CaseCounter.last)
    ).scalar_one()
    if serial > 99_999:
        raise ConflictError("more than 99999 cases in one day: the case number is full")
    return f"{day}{serial:05d}"


# --- duplicates --------------------------------------------------------------------------


def _distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    kx = math.cos(math.radians((lat1 + lat2) / 2))
    return math.hypot((lon2 - lon1) * kx * M_PER_DEG, (lat2 - lat1) * M_PER_DEG)


def nearby_cases(
    session: Session,
    category_code: str,
    lon: float,
    lat: float,
    radius_m: float,
    *,
    open_only: bool = True,
    since: datetime | None = None,
    exclude: int | None = None,
) -> list[tuple[float, int]]:
    """``(distance m, case id)`` of cases of one category within ``radius_m``, nearest first.
    A BeiDou code-range prefilter (``ix_cases_code``) then the exact distance. Unscoped (only
    ids leave): a duplicate just over a grid boundary must still be found."""
    if radius_m <= 0:
        return []
    dlat = radius_m / M_PER_DEG
    dlon = radius_m / (M_PER_DEG * max(math.cos(math.radians(lat)), 1e-6))
    ranges = ranges_for_bbox(lon - dlon, lat - dlat, lon + dlon, lat + dlat)
    stmt = select(Case.id, Case.lon, Case.lat).where(
        code_range_clause(Case.code, ranges), Case.category_code == category_code
    )
    if open_only:
        stmt = stmt.where(Case.state.in_([s.value for s in OPEN]))
    if since is not None:
        stmt = stmt.where(Case.created_at >= since)
    if exclude is not None:
        stmt = stmt.where(Case.id != exclude)
    hits = []
    for cid, clon, clat in session.execute(stmt, execution_options=_TRUSTED):
        d = _distance_m(lon, lat, clon, clat)
        if d <= radius_m:
            hits.append((d, cid))
    hits.sort()
    return hits


# --- report ------------------------------------------------------------------------------


def _finite(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise field_error(name, "must be a number")
    return float(value)


def _reporter(reporter: Reporter | Mapping[str, Any] | None) -> Reporter:
    if reporter is None:
        return Reporter()
    if isinstance(reporter, Mapping):
        unknown = set(reporter) - {"name", "phone", "email"}
        if unknown:
            raise field_error("reporter", f"unknown fields: {', '.join(sorted(unknown))}")
        reporter = Reporter(**{k: str(v or "") for k, v in reporter.items()})
    name, phone, email = reporter.name.strip(), reporter.phone.strip(), reporter.email.strip()
    if len(name) > 50:
        raise field_error("reporter.name", "at most 50 characters")
    if phone and not (
        phone.replace("-", "").lstrip("+").isdigit() and 5 <= len(phone) <= 20
    ):
        raise field_error("reporter.phone", "must be digits (optionally '-' or a leading '+')")
    if email and ("@" not in email or len(email) > 100 or " " in email):
        raise field_error("reporter.email", "is not an e-mail address")
    return Reporter(name, phone, email)


def submit_report(
    session: Session,
    *,
    category_code: str,
    lon: float,
    lat: float,
    description: str,
    source: str,
    reporter: Reporter | Mapping[str, Any] | None = None,
    photos: Sequence[bytes | evidence.Photo] = (),
    at: datetime | None = None,
    actor: Actor = None,
    title: str | None = None,
    urgent: bool = False,
    address: str = "",
    component_code: str | None = None,
    height: float | None = None,
    external_ref: str | None = None,
    evidence_dir: Path | None = None,
) -> Case:
    """Record a report (上报) as a new case in state ``reported``.

    Validates every field (a 422 naming the field: unknown ``category_code``, ``lon``/``lat``
    outside the county, bad ``photos[i]``, empty ``description`` …) before anything is written.
    Routes it (grid, township, department), flags a likely duplicate (``duplicate_of``: the
    nearest open case of the same category within the category's radius) and repeats at the
    place (``repeat_count``), starts the 受理 clock and logs the ``report`` event. ``actor``:
    the account reporting (checked: it may report, the place is in its jurisdiction), a
    :class:`SystemActor` (Open311, sensors), or None for a public report.
    """
    now = _now(at)
    try:
        src = Source(source)
    except ValueError:
        raise field_error("source", f"must be one of {', '.join(Source)}") from None
    if not isinstance(description, str) or not description.strip():
        raise field_error("description", "is required")
    if len(description) > 4000:
        raise field_error("description", "at most 4000 characters")
    if title is not None and len(title) > 200:
        raise field_error("title", "at most 200 characters")
    if len(address or "") > 200:
        raise field_error("address", "at most 200 characters")
    if not isinstance(category_code, str) or not category_code.strip():
        raise field_error("category_code", "is required")
    lon, lat = _finite(lon, "lon"), _finite(lat, "lat")
    if height is not None:
        height = _finite(height, "height")
    who = _reporter(reporter)
    if src == Source.GRID_WORKER and not isinstance(actor, Principal):
        raise field_error("source", "grid_worker reports come from a grid worker's account")
    checked = evidence.validate_photos(photos)  # all of them, before anything is written
    category = catalog.current_category(session, category_code.strip(), None)
    where = routing.locate(session, lon, lat, height)
    if isinstance(actor, Principal) and not actor.scope.contains(where.node_id):
        raise ForbiddenError("the location is outside your jurisdiction")
    component = (
        routing.find_component(session, component_code, category) if component_code else None
    )
    dept = routing.route_department(session, category, where, component)
    duplicates = nearby_cases(session, category.code, lon, lat, category.duplicate_radius_m)
    repeats = nearby_cases(
        session,
        category.code,
        lon,
        lat,
        category.duplicate_radius_m,
        open_only=False,
        since=now - timedelta(days=get_case_settings().repeat_days),
    )
    user_id, _, _ = _actor_fields(actor)
    case = Case(
        number=_next_number(session, now),
        category_id=category.id,
        category_code=category.code,
        kind=category.kind,
        title=(title or "").strip() or f"{category.major_name_zh}/{category.name_zh}",
        description=description.strip(),
        address_text=(address or "").strip(),
        state=State.REPORTED.value,
        source=src.value,
        urgent=bool(urgent),
        lon=lon,
        lat=lat,
        code=where.code,
        code3d=where.code3d,
        node_id=where.node_id,
        township_id=where.township_id,
        department_id=dept.id if dept else None,
        component_id=component.id if component else None,
        reporter_user_id=user_id,
        reporter_name=who.name,
        reporter_phone=who.phone,
        reporter_email=who.email,
        external_ref=external_ref,
        duplicate_of=duplicates[0][1] if duplicates else None,
        repeat_count=len(repeats),
        deadlines={},
        created_at=now,
        updated_at=now,
        last_seq=0,
    )
    cal = default_calendar()
    timer = _start_stage(case, category, INITIAL_STAGE, now, cal, where.rural)
    session.add(case)
    session.flush()
    data = {
        **timer,
        "category_version": category.version,
        "department": dept.code if dept else None,
        "node": where.node_code,
        "township": where.township_code,
        "duplicate_of": case.duplicate_of,
        "repeat_count": case.repeat_count,
        "photos": len(checked),
    }
    ev = _log(session, case, actor, "report", None, State.REPORTED.value, "", data, now)
    if checked:
        evidence.store(
            session,
            checked,
            evidence_dir or evidence.default_evidence_dir(),
            case_id=case.id,
            node_id=case.node_id,
            event_id=ev.id,
            at=now,
        )
    notify.on_event(session, case, ev, actor_user_id=user_id)
    session.flush()
    return case


def _log(
    session: Session,
    case: Case,
    actor: Actor,
    action: str,
    from_state: str | None,
    to_state: str,
    note: str,
    data: dict[str, Any],
    at: datetime,
) -> CaseEvent:
    user_id, external, role = _actor_fields(actor)
    case.last_seq = (case.last_seq or 0) + 1
    ev = CaseEvent(
        case_id=case.id,
        node_id=case.node_id,
        seq=case.last_seq,
        at=at,
        actor_user_id=user_id,
        actor_external=external,
        role=role,
        action=action,
        from_state=from_state,
        to_state=to_state,
        note=note,
        data=data,
    )
    session.add(ev)
    _flush(session, case)
    return ev


def _flush(session: Session, case: Case) -> None:
    number = case.number  # read before: after a failed flush the object cannot be loaded
    try:
        session.flush()
    except StaleDataError as exc:
        raise ConflictError(
            f"case {number} was changed by someone else at the same time: reload and retry"
        ) from exc


# --- reading -----------------------------------------------------------------------------


def get_case(session: Session, case_id_or_number: int | str) -> Case:
    """By id or by 13-digit number; outside the session's scope it is "not found"."""
    key = case_id_or_number
    if isinstance(key, str):
        key = key.strip()
        if len(key) == 13 and key.isdigit():
            case = session.scalar(select(Case).where(Case.number == key))
            if case is None:
                raise NotFoundError(f"case {key} not found")
            return case
        if not key.isdigit():
            raise NotFoundError("case not found: give its id or its 13-digit number")
        key = int(key)
    case = session.get(Case, key)
    if case is None:
        raise NotFoundError(f"case {key} not found")
    return case


def case_events(session: Session, case_id: int) -> list[CaseEvent]:
    """The case's event log in order (the case must be visible to the session)."""
    case = get_case(session, case_id)
    return list(
        session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
        )
    )


def handler_departments(session: Session, user_id: int) -> list[int]:
    return list(
        session.scalars(
            select(DepartmentMember.department_id).where(DepartmentMember.user_id == user_id)
        )
    )


def can_handle(session: Session, actor: Actor, case: Case) -> bool:
    """A department member of the case's department; or a township officer whose jurisdiction
    holds the township department the case is assigned to."""
    if not isinstance(actor, Principal) or case.department_id is None:
        return False
    if case.department_id in handler_departments(session, actor.user_id):
        return True
    if actor.role == Role.TOWNSHIP_OFFICER:
        dept = session.get(Department, case.department_id)
        return bool(dept and dept.node_id is not None and actor.scope.contains(dept.node_id))
    return False


def allowed_actions(session: Session, actor: Actor, case: Case) -> list[str]:
    """What ``actor`` may do to ``case`` now (for the UI; ``transition`` checks again)."""
    out = []
    for action in actions_from(case.state):
        rule = rule_for(case.state, action)
        assert rule is not None
        if _role_ok(rule, actor) and (not rule.handler_only or can_handle(session, actor, case)):
            out.append(action)
    return out


# --- transitions -------------------------------------------------------------------------


def _role_ok(rule: Rule, actor: Actor) -> bool:
    if isinstance(actor, Principal):
        return actor.role is not None and str(actor.role) in rule.roles
    if isinstance(actor, SystemActor):
        return actor.role in rule.roles
    return False


def _rural(session: Session, case: Case) -> bool:
    code = session.scalar(
        select(JurisdictionNode.code).where(JurisdictionNode.id == case.township_id),
        execution_options=_TRUSTED,
    )
    return bool(code) and int(str(code)[6:9]) >= 100


def _case_ref(session: Session, value: Any, name: str) -> Case:
    if not isinstance(value, int | str) or isinstance(value, bool):
        raise field_error(name, "must be a case id or number")
    try:
        return get_case(session, value)
    except NotFoundError:
        raise field_error(name, "is not a case you can see") from None


def transition(
    session: Session,
    case_id: int | str,
    action: str,
    *,
    actor: Actor,
    note: str | None = None,
    data: Mapping[str, Any] | None = None,
    at: datetime | None = None,
    photos: Sequence[bytes | evidence.Photo] = (),
    evidence_dir: Path | None = None,
) -> Case:
    """Apply ``action`` to a case: the only way a case's state changes.

    Checks, in order: the case is visible (404), the action exists and is allowed in the
    current state (409, naming the allowed ones), the actor's role (403), the actor's
    jurisdiction (404) and, for department steps, membership of the case's department (403),
    a note where the table requires one and the action's ``data`` (422 naming the field).
    Then the timer effect, the counters, the immutable event (same transaction), photos
    (``photos``, attached to the event) and notifications.

    ``data`` per action: ``dispatch`` {"department": code} (default: the routed one);
    ``merge`` {"into": case id or number}; ``request_extension`` {"value": >0, "unit":
    working_hours|working_days|natural_hours}; ``visit`` {"satisfaction": satisfied |
    basically_satisfied | unsatisfied}; ``supervise`` {"reason": free text}.
    """
    try:
        return _transition(session, case_id, action, actor, note, data, at, photos, evidence_dir)
    except StaleDataError as exc:  # an autoflush met a newer row version
        raise ConflictError(
            f"case {case_id} was changed by someone else at the same time: reload and retry"
        ) from exc


def _transition(
    session: Session,
    case_id: int | str,
    action: str,
    actor: Actor,
    note: str | None,
    data: Mapping[str, Any] | None,
    at: datetime | None,
    photos: Sequence[bytes | evidence.Photo],
    evidence_dir: Path | None,
) -> Case:
    now = _now(at)
    note = (note or "").strip()
    data = dict(data or {})
    if len(note) > 2000:
        raise field_error("note", "at most 2000 characters")
    case = get_case(session, case_id)
    if isinstance(actor, Principal) and not actor.scope.contains(case.node_id):
        raise NotFoundError(f"case {case_id} not found")
    rule = rule_for(case.state, action)
    if rule is None:
        allowed = ", ".join(actions_from(case.state)) or "none"
        raise ConflictError(
            f"action {action!r} is not allowed in state {case.state} (allowed: {allowed})"
        )
    if not _role_ok(rule, actor):
        role = actor.role if actor is not None else "public"
        raise ForbiddenError(f"role {role or 'none'} may not {action} a case")
    if rule.handler_only and not can_handle(session, actor, case):
        raise ForbiddenError(f"only the case's department may {action} it")
    if rule.needs_note and not note:
        raise field_error("note", f"a reason is required to {action}")
    checked = evidence.validate_photos(photos)
    category = session.get(Category, case.category_id)
    assert category is not None
    from_state = case.state
    facts: dict[str, Any] = _guard(session, case, rule, actor, data, now)
    cal = default_calendar()
    old_stage = case.stage
    facts.update(_apply_timer(session, case, category, rule, now, cal))
    if old_stage is not None and rule.timer in (Timer.START, Timer.STOP, Timer.EXTEND):
        _resolve_supervisions(session, case, old_stage, now)
    if rule.to is not None:
        case.state = rule.to.value
    if rule.to == State.CLOSED:
        case.closed_at = now
    case.updated_at = now
    if checked:
        facts["photos"] = len(checked)
    ev = _log(session, case, actor, action, from_state, case.state, note, facts, now)
    if action == "supervise":
        _supervision(session, case, actor, ev, facts, note, now)
    if checked:
        evidence.store(
            session,
            checked,
            evidence_dir or evidence.default_evidence_dir(),
            case_id=case.id,
            node_id=case.node_id,
            event_id=ev.id,
            at=now,
        )
    user_id, _, _ = _actor_fields(actor)
    notify.on_event(session, case, ev, actor_user_id=user_id)
    _flush(session, case)
    return case


def _guard(
    session: Session,
    case: Case,
    rule: Rule,
    actor: Actor,
    data: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Action-specific checks and counters; returns the facts for the event's ``data``."""
    action = rule.action
    facts: dict[str, Any] = {}
    if action == "register" and rule.state == State.ACCEPTED and case.source in {
        s.value for s in NEEDS_VERIFICATION
    }:
        raise ConflictError(f"a {case.source} report must be verified on site (核实) first")
    if action == "dispatch":
        code = data.get("department")
        if code is not None:
            if not isinstance(code, str):
                raise field_error("data.department", "must be a department code")
            dept = catalog.get_department(session, code, "data.department")
        elif case.department_id is not None and rule.state == State.REGISTERED:
            dept = session.get(Department, case.department_id)
        else:
            raise field_error("data.department", "is required (no routed department)")
        assert dept is not None
        case.department_id = dept.id
        facts["department"] = dept.code
    elif action == "return":
        case.return_count += 1
        dept = session.get(Department, case.department_id) if case.department_id else None
        facts["department"] = dept.code if dept else None
    elif action == "merge":
        if "into" not in data:
            raise field_error("data.into", "is required: the case this one duplicates")
        target = _case_ref(session, data["into"], "data.into")
        if target.id == case.id:
            raise field_error("data.into", "a case cannot duplicate itself")
        if target.state not in {s.value for s in OPEN} and target.state != State.CLOSED:
            raise field_error("data.into", "must be an open or closed case, not a merged one")
        if target.category_code != case.category_code:
            raise field_error("data.into", "must be a case of the same category")
        case.duplicate_of = target.id
        facts["into"] = target.id
        facts["into_number"] = target.number
    elif action == "request_extension":
        if case.extension_pending:
            raise ConflictError("an extension request is already waiting for a decision")
        value = data.get("value")
        unit = data.get("unit")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 720:
            raise field_error("data.value", "must be a number of time units above 0 (≤ 720)")
        if unit not in {u.value for u in TimeUnit}:
            raise field_error("data.unit", f"must be one of {', '.join(TimeUnit)}")
        case.extension_pending = {"value": float(value), "unit": unit, "at": now.isoformat()}
        facts.update({"value": float(value), "unit": unit})
    elif action in ("approve_extension", "deny_extension"):
        if not case.extension_pending:
            raise ConflictError("no extension request is waiting")
        facts.update(
            {"value": case.extension_pending["value"], "unit": case.extension_pending["unit"]}
        )
        if action == "deny_extension":
            case.extension_pending = None
    elif action == "rework":
        case.rework_count += 1
    elif action == "visit":
        s = data.get("satisfaction")
        if s not in SATISFACTION:
            raise field_error("data.satisfaction", f"must be one of {', '.join(SATISFACTION)}")
        case.satisfaction = s
        facts["satisfaction"] = s
    elif action == "supervise":
        reason = data.get("reason", "manual")
        if not isinstance(reason, str) or len(reason) > 40:
            raise field_error("data.reason", "must be a short text")
        facts["reason"] = reason
    elif action == "reopen":
        case.closed_at = None
    return facts


def _apply_timer(
    session: Session, case: Case, category: Category, rule: Rule, now: datetime, cal: WorkCalendar
) -> dict[str, Any]:
    if rule.timer == Timer.START:
        assert rule.stage is not None
        return _start_stage(case, category, rule.stage, now, cal, _rural(session, case))
    if rule.timer == Timer.STOP:
        _stop_clock(case)
        return {}
    if rule.timer == Timer.PAUSE:
        unit = (case.deadlines or {}).get(case.stage or "", {}).get("unit", "working_hours")
        left = timedelta(0)
        if case.due_at is not None:
            due = as_utc(case.due_at)
            left = (
                max(due - now, timedelta(0))
                if unit == TimeUnit.NATURAL_HOURS
                else cal.working_between(now, due)
            )
        case.suspended_remaining_min = left.total_seconds() / 60
        stage = case.stage
        _stop_clock(case)
        case.stage = stage  # remembered for resume
        return {"stage": stage, "remaining_min": round(case.suspended_remaining_min, 3)}
    if rule.timer == Timer.RESUME:
        stage = case.stage or Stage.HANDLE.value
        unit = (case.deadlines or {}).get(stage, {}).get("unit", "working_hours")
        unit = TimeUnit.NATURAL_HOURS if unit == TimeUnit.NATURAL_HOURS else TimeUnit.WORKING_HOURS
        hours = (case.suspended_remaining_min or 0.0) / 60
        due = cal.add(now, hours, unit)
        warn = cal.add(now, hours * get_case_settings().warn_fraction, unit)
        _set_clock(case, stage, now, warn.at, due.at, unit, hours, due.provisional)
        case.suspended_remaining_min = None
        return {"stage": stage, "due_at": due.at.isoformat()}
    if rule.timer == Timer.EXTEND:
        pending = case.extension_pending or {}
        base = as_utc(case.due_at) if case.due_at is not None else now
        due = cal.add(base, float(pending["value"]), str(pending["unit"]))
        stage = case.stage or Stage.HANDLE.value
        started = as_utc(case.stage_started_at) if case.stage_started_at else now
        entry = (case.deadlines or {}).get(stage, {})
        unit = str(entry.get("unit", pending["unit"]))
        # the yellow light moves with the deadline: the same fraction of the longer stage
        if unit == TimeUnit.NATURAL_HOURS:
            total_h = (due.at - started).total_seconds() / 3600
        else:
            total_h = cal.working_between(started, due.at).total_seconds() / 3600
            unit = TimeUnit.WORKING_HOURS
        warn = cal.add(started, total_h * get_case_settings().warn_fraction, unit)
        _set_clock(case, stage, started, warn.at, due.at, unit, total_h, due.provisional)
        case.extension_count += 1
        case.extension_pending = None
        return {"stage": stage, "due_at": due.at.isoformat()}
    return {}


def _supervision(
    session: Session,
    case: Case,
    actor: Actor,
    ev: CaseEvent,
    facts: dict[str, Any],
    note: str,
    now: datetime,
) -> None:
    reason = "overdue" if facts.get("reason") == "overdue" else "manual"
    due = as_utc(case.due_at) if case.due_at else None
    key = f"{case.stage}:{due.isoformat() if due else ''}" if reason == "overdue" else f"ev{ev.id}"
    user_id, _, _ = _actor_fields(actor)
    session.add(
        Supervision(
            case_id=case.id,
            node_id=case.node_id,
            stage=case.stage or "",
            reason=reason,
            dedupe_key=key[:64],
            department_id=case.department_id,
            due_at=due,
            note=note,
            created_by=user_id,
            created_at=now,
        )
    )
    case.supervision_count += 1


def _resolve_supervisions(session: Session, case: Case, stage: str, now: datetime) -> None:
    """The overdue stage ended (or got a new deadline): its open 督办 items are resolved."""
    session.execute(
        update(Supervision)
        .where(
            Supervision.case_id == case.id,
            Supervision.stage == stage,
            Supervision.resolved_at.is_(None),
        )
        .values(resolved_at=now)
        .execution_options(synchronize_session=False)
    )


# --- sweep -------------------------------------------------------------------------------


@dataclass
class SweepResult:
    yellow: int = 0
    red: int = 0
    supervisions: int = 0


def sweep(session: Session, *, at: datetime | None = None) -> SweepResult:
    """Warning lights for open cases: yellow once the warning time passed, red at the deadline;
    a case going red gets a 督办 (``supervise`` event by ``system:sweep`` and a supervision item,
    once per stage deadline). Run it periodically (``yitu cases sweep``); idempotent."""
    now = _now(at)
    result = SweepResult()
    open_states = [s.value for s in OPEN if s != State.SUSPENDED]
    stmt = (
        select(Case)
        .where(
            Case.state.in_(open_states),
            Case.due_at.is_not(None),
            or_(
                (Case.warning_level == WarningLevel.NONE.value) & (Case.warn_at <= now),
                (Case.warning_level != WarningLevel.RED.value) & (Case.due_at <= now),
            ),
        )
        .order_by(Case.id)
    )
    system = SystemActor("system:sweep")
    for case in list(session.scalars(stmt)):
        if as_utc(case.due_at) <= now:  # type: ignore[arg-type]
            case.warning_level = WarningLevel.RED.value
            result.red += 1
            due = as_utc(case.due_at)  # type: ignore[arg-type]
            key = f"{case.stage}:{due.isoformat()}"
            exists = session.scalar(
                select(func.count())
                .select_from(Supervision)
                .where(Supervision.case_id == case.id, Supervision.dedupe_key == key)
            )
            if not exists:
                transition(
                    session,
                    case.id,
                    "supervise",
                    actor=system,
                    note=f"超期: {case.stage} stage past its deadline",
                    data={"reason": "overdue"},
                    at=now,
                )
                case.warning_level = WarningLevel.RED.value
                result.supervisions += 1
        else:
            case.warning_level = WarningLevel.YELLOW.value
            result.yellow += 1
    session.flush()
    return result


__all__ = [
    "Actor",
    "Reporter",
    "SweepResult",
    "SystemActor",
    "allowed_actions",
    "case_events",
    "get_case",
    "list_categories",
    "nearby_cases",
    "submit_report",
    "sweep",
    "transition",
]
