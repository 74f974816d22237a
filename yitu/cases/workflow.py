"""The case state machine as one table: (state, action) → next state, who may do it, and what
it does to the timers. ``services.transition`` is the only code that applies it.

Main line (governance-domain.md §1.5, §6.2)::

    reported ─accept─► accepted ─verify─► verified ─register─► registered ─dispatch─► dispatched
    ─handle─► handling ─feedback─► handled ─check─► checked ─close─► closed

Side lines: ``reject`` (不予受理) and ``cancel`` (作废) end a case before dispatch; ``merge`` ends a
duplicate; ``register`` straight from ``accepted`` only for patrol reports (no 核实 needed);
``return`` (回退) sends a dispatched case back to the dispatcher, who re-``dispatch``es it or
``refuse_return``s it; ``request_extension`` / ``approve_extension`` / ``deny_extension`` (延期);
``suspend`` (缓办, the timer stops) / ``resume``; ``rework`` (返工: 核查 failed); ``visit`` (回访,
records satisfaction); ``reopen`` after an unsatisfied visit; ``supervise`` (督办, by hand).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from yitu.access.roles import Role


class State(StrEnum):
    REPORTED = "reported"  # 上报
    ACCEPTED = "accepted"  # 受理 (awaiting 核实)
    VERIFIED = "verified"  # 核实 done (awaiting 立案)
    REGISTERED = "registered"  # 立案 (awaiting 派遣)
    DISPATCHED = "dispatched"  # 派遣 (awaiting the department's 签收)
    HANDLING = "handling"  # 处置中
    HANDLED = "handled"  # 处置反馈 (awaiting 核查)
    CHECKED = "checked"  # 核查通过 (awaiting 结案)
    CLOSED = "closed"  # 结案
    RETURNED = "returned"  # 回退 (awaiting the dispatcher)
    SUSPENDED = "suspended"  # 缓办
    REJECTED = "rejected"  # 不予受理 / 不予立案
    CANCELLED = "cancelled"  # 作废
    MERGED = "merged"  # 合并 (duplicate of another case)


TERMINAL = frozenset({State.REJECTED, State.CANCELLED, State.MERGED})
#: States in which a case is open (counted for duplicates, sweeps and 督办).
OPEN = frozenset(State) - TERMINAL - {State.CLOSED}


class Stage(StrEnum):
    """A timed stage: its deadline comes from the category's time limits."""

    ACCEPT = "accept"  # 受理
    VERIFY = "verify"  # 核实
    REGISTER = "register"  # 立案
    DISPATCH = "dispatch"  # 派遣
    HANDLE = "handle"  # 处置 (the disposal clock, from dispatch to feedback)
    CHECK = "check"  # 核查
    CLOSE = "close"  # 结案


class Timer(StrEnum):
    """What a transition does to the timers."""

    START = "start"  # start the ``stage`` clock afresh
    KEEP = "keep"  # leave the running clock as it is
    STOP = "stop"  # no clock runs afterwards
    PAUSE = "pause"  # stop and remember the working time left (缓办)
    RESUME = "resume"  # restart with the remembered time left
    EXTEND = "extend"  # add the approved extension to the running deadline


#: Roles that act for the operations centre (受理员/值班长/派遣员).
CENTRE = frozenset({Role.OPERATOR, Role.TOWNSHIP_OFFICER})
FIELD = frozenset({Role.GRID_WORKER, Role.TOWNSHIP_OFFICER})  # 监督员/网格员 on site
HANDLER = frozenset({Role.DEPT_HANDLER, Role.TOWNSHIP_OFFICER})  # 处置单位
SYSTEM = "system"  # the sweep and other trusted automation


@dataclass(frozen=True)
class Rule:
    state: State
    action: str
    to: State | None  # None: stays in the same state
    roles: frozenset[str]
    timer: Timer
    stage: Stage | None = None  # the clock started by Timer.START
    handler_only: bool = False  # actor must belong to the case's department
    needs_note: bool = False  # a reason is required
    description: str = ""


def _r(
    state: State,
    action: str,
    to: State | None,
    roles: frozenset[Role] | set[str],
    timer: Timer,
    stage: Stage | None = None,
    **kw: object,
) -> Rule:
    return Rule(state, action, to, frozenset(str(r) for r in roles), timer, stage, **kw)  # type: ignore[arg-type]


_PRE_DISPATCH = (State.REPORTED, State.ACCEPTED, State.VERIFIED, State.REGISTERED)

RULES: tuple[Rule, ...] = (
    _r(State.REPORTED, "accept", State.ACCEPTED, CENTRE, Timer.START, Stage.VERIFY,
       description="受理: a verification (核实) task starts"),
    _r(State.REPORTED, "reject", State.REJECTED, CENTRE, Timer.STOP, needs_note=True,
       description="不予受理"),
    _r(State.REPORTED, "merge", State.MERGED, CENTRE, Timer.STOP,
       description="duplicate of an open case: merged into it (data.into = case id)"),
    _r(State.ACCEPTED, "merge", State.MERGED, CENTRE, Timer.STOP,
       description="duplicate found after acceptance"),
    _r(State.ACCEPTED, "verify", State.VERIFIED, FIELD | CENTRE, Timer.START, Stage.REGISTER,
       description="核实 on site: the problem exists; 立案 is due next"),
    _r(State.ACCEPTED, "register", State.REGISTERED, CENTRE, Timer.START, Stage.DISPATCH,
       description="立案 of a patrol report (no 核实 needed; public reports must be verified)"),
    _r(State.ACCEPTED, "reject", State.REJECTED, CENTRE, Timer.STOP, needs_note=True,
       description="核实: the problem does not exist / not a city-management matter"),
    _r(State.VERIFIED, "register", State.REGISTERED, CENTRE, Timer.START, Stage.DISPATCH,
       description="立案 (meets the category's 立案条件)"),
    _r(State.VERIFIED, "reject", State.REJECTED, CENTRE, Timer.STOP, needs_note=True,
       description="不予立案 (does not meet the 立案条件)"),
    _r(State.REGISTERED, "dispatch", State.DISPATCHED, CENTRE, Timer.START, Stage.HANDLE,
       description="派遣 to a department (data.department = code; default from routing)"),
    _r(State.RETURNED, "dispatch", State.DISPATCHED, CENTRE, Timer.START, Stage.HANDLE,
       description="re-dispatch after 回退 (approves the return)"),
    _r(State.RETURNED, "refuse_return", State.HANDLING, CENTRE, Timer.START, Stage.HANDLE,
       needs_note=True, description="回退 refused: back to the same department"),
    _r(State.DISPATCHED, "handle", State.HANDLING, HANDLER, Timer.KEEP, handler_only=True,
       description="签收: the department takes the case (the disposal clock runs on)"),
    _r(State.DISPATCHED, "return", State.RETURNED, HANDLER, Timer.START, Stage.DISPATCH,
       handler_only=True, needs_note=True, description="回退: not this department's matter"),
    _r(State.HANDLING, "return", State.RETURNED, HANDLER, Timer.START, Stage.DISPATCH,
       handler_only=True, needs_note=True, description="回退 while handling"),
    _r(State.HANDLING, "feedback", State.HANDLED, HANDLER, Timer.START, Stage.CHECK,
       handler_only=True, description="处置反馈 (with after-photos); 核查 is due next"),
    _r(State.HANDLING, "request_extension", None, HANDLER, Timer.KEEP, handler_only=True,
       needs_note=True, description="延期申请 (data.value, data.unit)"),
    _r(State.HANDLING, "approve_extension", None, CENTRE, Timer.EXTEND,
       description="延期 approved: the disposal deadline moves"),
    _r(State.HANDLING, "deny_extension", None, CENTRE, Timer.KEEP, needs_note=True,
       description="延期 refused"),
    _r(State.HANDLING, "suspend", State.SUSPENDED, CENTRE, Timer.PAUSE, needs_note=True,
       description="缓办/挂账 approved: the clock stops"),
    _r(State.SUSPENDED, "resume", State.HANDLING, CENTRE, Timer.RESUME,
       description="缓办 ends: the clock runs on with the time that was left"),
    _r(State.HANDLED, "check", State.CHECKED, FIELD | CENTRE, Timer.START, Stage.CLOSE,
       description="核查 passed on site"),
    _r(State.HANDLED, "rework", State.HANDLING, FIELD | CENTRE, Timer.START, Stage.HANDLE,
       needs_note=True, description="返工: 核查 failed; the disposal clock starts again"),
    _r(State.CHECKED, "close", State.CLOSED, CENTRE, Timer.STOP,
       description="结案 (meets the 结案条件)"),
    _r(State.CLOSED, "visit", None, CENTRE, Timer.STOP,
       description="回访: data.satisfaction = satisfied | basically_satisfied | unsatisfied"),
    _r(State.CLOSED, "reopen", State.HANDLING, CENTRE, Timer.START, Stage.HANDLE,
       needs_note=True, description="reopened (回访 unsatisfied): handled again"),
    *(
        _r(s, "cancel", State.CANCELLED, {Role.OPERATOR}, Timer.STOP, needs_note=True,
           description="作废 (值班长)")
        for s in _PRE_DISPATCH
    ),
    *(
        _r(s, "supervise", None, {Role.OPERATOR, SYSTEM}, Timer.KEEP,
           description="督办: raises a supervision item")
        for s in sorted(OPEN)
    ),
)

TABLE: dict[tuple[State, str], Rule] = {(r.state, r.action): r for r in RULES}
ACTIONS: frozenset[str] = frozenset(r.action for r in RULES)
#: The stage a newly reported case's clock starts with.
INITIAL_STAGE = Stage.ACCEPT

#: Workflow defaults for stages a category does not set (governance-domain.md §1.6: 立案+派遣
#: 10 min urgent / 30 min normal; 核实/核查 1 h; 受理 0.5 working day).
DEFAULT_LIMITS: dict[str, dict[str, tuple[float, str]]] = {
    "normal": {
        "accept": (4.0, "working_hours"),
        "verify": (1.0, "working_hours"),
        "register": (0.5, "working_hours"),
        "dispatch": (0.5, "working_hours"),
        "handle": (1.0, "working_days"),
        "check": (1.0, "working_hours"),
        "close": (1.0, "working_hours"),
    },
    "urgent": {
        "accept": (0.5, "natural_hours"),
        "verify": (1.0, "natural_hours"),
        "register": (10 / 60, "natural_hours"),
        "dispatch": (10 / 60, "natural_hours"),
        "handle": (4.0, "natural_hours"),
        "check": (1.0, "natural_hours"),
        "close": (1.0, "natural_hours"),
    },
}


def rule_for(state: str, action: str) -> Rule | None:
    try:
        return TABLE.get((State(state), action))
    except ValueError:
        return None


def actions_from(state: str) -> list[str]:
    """Actions allowed in ``state`` (any role), in table order."""
    return [r.action for r in RULES if r.state == state]
