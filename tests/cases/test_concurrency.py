"""Concurrency: simultaneous reports get distinct consecutive numbers; two simultaneous
transitions of one case cannot both win (optimistic row version), nothing is half-applied."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from cases.conftest import IN_A, CasesWorld
from yitu.access.roles import Role
from yitu.cases import services
from yitu.cases.models import Case, CaseEvent
from yitu.core.errors import ConflictError


def _parallel(n: int, fn: Any) -> list[Any]:
    barrier = threading.Barrier(n)
    out: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fn(i)
        except Exception as exc:  # collected and asserted on by the caller
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_concurrent_reports_get_distinct_numbers(fresh_cases: CasesWorld) -> None:
    cw = fresh_cases

    def report(i: int) -> str:
        with cw.session() as s:
            c = services.submit_report(s, category_code="E0599", lon=IN_A[0] + i * 1e-3,
                                       lat=IN_A[1], description=f"报告{i}", source="hotline",
                                       at=cw.world.clock.now(), evidence_dir=cw.evidence_dir)
            return c.number

    numbers = _parallel(8, report)
    assert all(isinstance(n, str) for n in numbers), numbers
    assert sorted(int(n[8:]) for n in numbers) == list(range(1, 9))


def test_concurrent_transitions_one_wins(fresh_cases: CasesWorld) -> None:
    cw = fresh_cases
    with cw.session() as s:
        cid = services.submit_report(s, category_code="E0599", lon=IN_A[0], lat=IN_A[1],
                                     description="x", source="hotline",
                                     at=cw.world.clock.now()).id
    op = cw.principal(Role.OPERATOR)
    loaded = threading.Barrier(2)

    def act(i: int) -> str:
        with cw.session() as s:
            services.get_case(s, cid)  # both read the same version first
            loaded.wait()
            # whichever commits second acted on a stale version (optimistic lock) or, if it
            # read after the first commit, finds accept no longer allowed: a conflict either way
            return services.transition(s, cid, "accept", actor=op,
                                       at=cw.world.clock.now()).state

    results = _parallel(2, act)
    wins = [r for r in results if isinstance(r, str)]
    losses = [r for r in results if isinstance(r, Exception)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert isinstance(losses[0], ConflictError)
    with cw.session() as s:
        c = s.get(Case, cid)
        assert c is not None and c.state == wins[0] == "accepted" and c.last_seq == 2
        assert s.scalar(select(func.count()).select_from(CaseEvent)
                        .where(CaseEvent.case_id == cid)) == 2
