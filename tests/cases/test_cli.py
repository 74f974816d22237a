"""``yitu cases`` commands: seed, categories, sweep (warnings and 督办), add-member."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from foundation.world import AUDIT_KEY
from sqlalchemy import select
from typer.testing import CliRunner

from cases.conftest import IN_A, CasesWorld
from yitu.cases import services
from yitu.cases.models import Department, DepartmentMember, Supervision
from yitu.cli import app as cli


def _run(cw: CasesWorld, tmp_path: Path, *args: str) -> str:
    env = {
        "YITU_DATABASE_URL": cw.platform.settings.database_url,
        "YITU_AUDIT_KEY": AUDIT_KEY,
        "YITU_DATA_DIR": str(tmp_path / "data"),
    }
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_cases_cli(fresh_cases: CasesWorld, tmp_path: Path) -> None:
    cw = fresh_cases
    counts = json.loads(_run(cw, tmp_path, "cases", "seed"))
    assert counts == {"departments": 0, "categories": 0, "placed": 0}
    with cw.session() as s:  # township departments are linked to their nodes
        town = s.scalar(select(Department).where(Department.code == "town-420682001"))
        assert town is not None and town.node_id is not None
    lines = _run(cw, tmp_path, "cases", "categories").splitlines()
    assert len(lines) == 111
    assert any(line.startswith("E0102\tv1\t4 working_hours") for line in lines)
    with cw.session() as s:  # reported three days ago: its 受理 deadline has passed
        cid = services.submit_report(s, category_code="E0102", lon=IN_A[0], lat=IN_A[1],
                                     description="垃圾", source="hotline",
                                     at=cw.world.clock.now() - timedelta(days=3)).id
    out = json.loads(_run(cw, tmp_path, "cases", "sweep"))
    assert out["red"] == 1 and out["supervisions"] == 1
    assert json.loads(_run(cw, tmp_path, "cases", "sweep"))["supervisions"] == 0
    with cw.session() as s:
        assert s.scalar(select(Supervision.case_id)) == cid
    _run(cw, tmp_path, "cases", "add-member", "u_dept_handler", "jtj")
    with cw.session() as s:
        jtj = s.scalar(select(Department.id).where(Department.code == "jtj"))
        assert s.scalar(select(DepartmentMember.id).where(DepartmentMember.department_id == jtj))
