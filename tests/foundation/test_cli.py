"""The commands: db upgrade, user add, demo init (what `make run` calls), jurisdiction loading."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from foundation.world import AUDIT_KEY, make_platform
from yitu.access.models import JurisdictionNode, User
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.api.app import create_app
from yitu.cli import app as cli


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "YITU_DATABASE_URL": db_url,
        "YITU_AUDIT_KEY": AUDIT_KEY,
        "YITU_DATA_DIR": str(tmp_path / "data"),
    }


def run(env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, list(args), env=env)
    return result


def test_db_upgrade_creates_embedded_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"YITU_DATABASE_URL": "", "YITU_AUDIT_KEY": "", "YITU_DATA_DIR": "data"}
    result = run(env, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "yitu.db").exists()
    # Second run is a no-op; WAL mode is on.
    assert run(env, "db", "upgrade").exit_code == 0
    import sqlite3

    mode = sqlite3.connect(tmp_path / "data" / "yitu.db").execute("PRAGMA journal_mode").fetchone()
    assert mode[0] == "wal"


def test_audit_key_file_is_created_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"YITU_DATABASE_URL": "", "YITU_AUDIT_KEY": "", "YITU_DATA_DIR": "data"}
    assert run(env, "demo", "init").exit_code == 0
    key = tmp_path / "data" / "audit.key"
    assert key.exists() and key.stat().st_mode & 0o777 == 0o600
    assert run(env, "audit", "verify").exit_code == 0


def test_user_add_and_login(env: dict[str, str], tmp_path: Path) -> None:
    result = run(env, "user", "add", "gw_li", "--role", "grid_worker", "--scope", "420682001001")
    assert result.exit_code == 0, result.output
    password = result.output.split("one-time password: ")[1].strip()
    platform = make_platform(env["YITU_DATABASE_URL"], tmp_path / "x")
    from fastapi.testclient import TestClient

    with TestClient(create_app(platform)) as client:
        r = client.post("/api/v1/auth/login", json={"username": "gw_li", "password": password})
        assert r.status_code == 200 and r.json()["must_change_password"] is True
    platform.db.dispose()
    bad = run(env, "user", "add", "gw_wang", "--role", "grid_worker")
    assert bad.exit_code != 0 and "needs at least one jurisdiction" in bad.output
    bad = run(env, "user", "add", "x_admin", "--role", "king")
    assert bad.exit_code != 0 and "unknown role" in bad.output


def test_demo_init_is_idempotent(env: dict[str, str], tmp_path: Path) -> None:
    first = run(env, "demo", "init")
    assert first.exit_code == 0 and "'admin' created; one-time password:" in first.output
    second = run(env, "demo", "init")
    assert second.exit_code == 0 and "'admin' reset; one-time password:" in second.output
    platform = make_platform(env["YITU_DATABASE_URL"], tmp_path / "x")
    with platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        admins = session.scalars(select(User).where(User.username == "admin")).all()
        assert len(admins) == 1 and admins[0].role == "sys_admin"
        admins[0].must_change_password = False  # as if the admin had changed it
        nodes = session.scalar(
            select(func.count())
            .select_from(JurisdictionNode)
            .where(JurisdictionNode.level != "grid")
        )
        grids = session.scalar(
            select(func.count())
            .select_from(JurisdictionNode)
            .where(JurisdictionNode.level == "grid")
        )
    assert nodes == 273 and grids >= 259  # divisions + the small demo county's grids
    third = run(env, "demo", "init")
    assert third.exit_code == 0 and "already set up" in third.output
    platform.db.dispose()
    assert run(env, "audit", "verify").exit_code == 0


def test_jurisdiction_commands(env: dict[str, str], tmp_path: Path) -> None:
    result = run(env, "jurisdiction", "load-divisions")
    assert result.exit_code == 0 and "0 jurisdiction nodes added" in result.output
    csv = tmp_path / "extra.csv"
    csv.write_text(
        "code,name,level,parent_code\n420682999,测试镇,town,420682\n"
        "420682999001,测试村,village,420682999\n",
        encoding="utf-8",
    )
    assert (
        "2 jurisdiction nodes added"
        in run(env, "jurisdiction", "load-divisions", "--csv", str(csv)).output
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,level,parent_code\n4206829,坏,town,420682\n", encoding="utf-8")
    out = run(env, "jurisdiction", "load-divisions", "--csv", str(bad))
    assert out.exit_code != 0 and "does not fit its level" in out.output
    ok = run(env, "jurisdiction", "add-grid", "420682999001", "1", "测试网格")
    assert ok.exit_code == 0 and "grid 420682999001001 added" in ok.output
    dup = run(env, "jurisdiction", "add-grid", "420682999001", "1", "again")
    assert dup.exit_code != 0


def test_audit_head_prints_an_anchor(env: dict[str, str]) -> None:
    run(env, "jurisdiction", "load-divisions")
    out = run(env, "audit", "head")
    seq, mac = out.output.strip().split(":")
    assert seq == "1" and len(mac) == 64


def test_demo_init_gives_a_county_operator_for_the_map(env: dict[str, str], tmp_path: Path) -> None:
    first = run(env, "demo", "init")
    assert "demo operator 'operator' created; one-time password:" in first.output, first.output
    password = first.output.split("'operator' created; one-time password: ")[1].split()[0]
    platform = make_platform(env["YITU_DATABASE_URL"], tmp_path / "x")
    from fastapi.testclient import TestClient

    with TestClient(create_app(platform)) as client:
        r = client.post("/api/v1/auth/login", json={"username": "operator", "password": password})
        assert r.status_code == 200 and r.json()["must_change_password"] is True
        auth = {"Authorization": f"Bearer {r.json()['token']}"}
        new = "Operator-pass-2026"
        change = {"current_password": password, "new_password": new}
        r = client.post("/api/v1/auth/password", json=change, headers=auth)
        assert r.status_code in (200, 204), r.text
        r = client.post("/api/v1/auth/login", json={"username": "operator", "password": new})
        auth = {"Authorization": f"Bearer {r.json()['token']}"}
        people = client.get("/api/v1/people?limit=5", headers=auth)
        assert people.status_code == 200 and len(people.json()["items"]) == 5  # the demo county
    platform.db.dispose()
    again = run(env, "demo", "init")
    assert "demo operator 'operator' already set up" in again.output
    assert run(env, "audit", "verify").exit_code == 0
