"""``yitu cases kpi``, ``yitu cases open311-key`` and ``yitu demo cases`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from foundation.world import AUDIT_KEY
from sqlalchemy import func, select
from typer.testing import CliRunner

from cases.conftest import IN_A, CasesWorld
from yitu.cases import services
from yitu.cases.models import Case
from yitu.cases.open311_models import Open311Key
from yitu.cli import app as cli


def _run(cw: CasesWorld, tmp_path: Path, *args: str, ok: bool = True) -> str:
    env = {
        "YITU_DATABASE_URL": cw.platform.settings.database_url,
        "YITU_AUDIT_KEY": AUDIT_KEY,
        "YITU_DATA_DIR": str(tmp_path / "data"),
    }
    result = CliRunner().invoke(cli, list(args), env=env)
    assert (result.exit_code == 0) is ok, result.output
    return result.output


def test_kpi_keys_and_demo_cases(fresh_cases: CasesWorld, tmp_path: Path) -> None:
    cw = fresh_cases
    now = cw.world.clock.now()
    with cw.session() as s:
        services.submit_report(s, category_code="E0102", lon=IN_A[0], lat=IN_A[1],
                               description="垃圾", source="hotline", at=now)
    day = now.date().isoformat()
    body = json.loads(_run(cw, tmp_path, "cases", "kpi", "--from", day, "--to", day, "--json"))
    assert body["by"] == "township" and body["total"]["counts"]["reported"] == 1
    table = _run(cw, tmp_path, "cases", "kpi", "--from", day, "--to", day, "--by", "grid")
    assert "合计" in table and "420682001001001" in table
    assert "by must be" in _run(cw, tmp_path, "cases", "kpi", "--by", "street", ok=False)

    key = _run(cw, tmp_path, "cases", "open311-key", "issue", "CLI 客户端").strip()
    assert len(key) >= 40
    r = cw.world.client.post("/open311/v2/requests.json", data={
        "api_key": key, "service_code": "E0102", "lat": IN_A[1], "long": IN_A[0]})
    assert r.status_code == 200, r.text
    listed = _run(cw, tmp_path, "cases", "open311-key", "list")
    assert "CLI 客户端\trealtime\tactive" in listed and key not in listed
    _run(cw, tmp_path, "cases", "open311-key", "revoke", "CLI 客户端")
    with cw.session() as s:
        row = s.scalar(select(Open311Key))
        assert row is not None and row.revoked_at is not None
    r = cw.world.client.post("/open311/v2/requests.json", data={
        "api_key": key, "service_code": "E0102", "lat": IN_A[1], "long": IN_A[0]})
    assert r.status_code == 403

    out = _run(cw, tmp_path, "demo", "cases", "--months", "1", "--seed", "2", "--per-month", "30")
    assert "demo cases loaded" in out
    with cw.session() as s:
        assert (s.scalar(select(func.count()).select_from(Case)) or 0) > 10
    assert "months must be" in _run(cw, tmp_path, "demo", "cases", "--months", "0", ok=False)
