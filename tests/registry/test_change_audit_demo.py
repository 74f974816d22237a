"""The bulk demo loads commit with their audit records: the demo county (``yitu demo
generate``) and the demo cases (``yitu demo cases``) are each one transaction that holds their
``config_change`` record; with the audit store failing, nothing is loaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from foundation.conftest import DatabaseFactory
from foundation.test_change_audit import audit_store_refuses
from foundation.world import World, build_world
from sqlalchemy import func, select

from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.audit.chain import verify
from yitu.audit.models import AuditEvent
from yitu.cases.models import Case
from yitu.cli.cases_kpi import generate_demo_cases
from yitu.demo.cli import run
from yitu.demo.load import county_loaded


@pytest.fixture
def fresh_world(databases: DatabaseFactory, tmp_path: Path) -> Iterator[World]:
    w = build_world(databases.fresh(), tmp_path)
    yield w
    w.close()


def _demo_records(w: World) -> list[str]:
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        rows = s.scalars(select(AuditEvent.detail).where(AuditEvent.object_type == "demo"))
        return list(rows)


def _cases(w: World) -> int:
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        return int(s.scalar(select(func.count()).select_from(Case)) or 0)


def test_demo_county_and_cases_commit_with_their_records(fresh_world: World) -> None:
    w, p = fresh_world, fresh_world.platform
    with audit_store_refuses(w), pytest.raises(Exception, match="audit store unavailable"):
        run(p, "small", 1, replace=False, progress=False)
    with p.db.engine.connect() as conn:
        assert not county_loaded(conn)
    assert _demo_records(w) == []

    run(p, "small", 1, replace=False, progress=False)
    with p.db.engine.connect() as conn:
        assert county_loaded(conn)
    assert _demo_records(w) == ["demo county generated: scale small, seed 1"]

    with audit_store_refuses(w), pytest.raises(Exception, match="audit store unavailable"):
        generate_demo_cases(p, 1, 1, per_month=30)
    assert _cases(w) == 0 and len(_demo_records(w)) == 1
    counts = generate_demo_cases(p, 1, 1, per_month=30)
    assert _cases(w) == counts["cases"] > 0
    assert _demo_records(w)[-1] == "demo cases: 1 months, seed 1"
    assert verify(p.db, p.audit.key).ok
