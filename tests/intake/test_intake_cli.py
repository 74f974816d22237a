"""``yitu import run / report / review`` on the small demo county's police and health sources."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from foundation.conftest import DatabaseFactory
from foundation.world import AUDIT_KEY
from sqlalchemy import select, text
from typer.testing import CliRunner

from yitu.cli import app as cli
from yitu.core.db import Database
from yitu.demo.generate import Demo
from yitu.demo.load import load
from yitu.intake.linkage import LinkSettings
from yitu.intake.mapping import load_mapping
from yitu.intake.models import ReviewItem
from yitu.intake.service import run_import
from yitu.intake.synth import read_county, write_sources
from yitu.people.models import Person

ID_RE = re.compile(r"\d{17}[\dXx]")
MOBILE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def test_import_report_and_review_commands(
    databases: DatabaseFactory, small_demo: Demo, tmp_path: Path
) -> None:
    url = databases.fresh()
    db = Database(url)
    load(db, small_demo)
    src = tmp_path / "sources"
    write_sources(read_county(db), src, 1, only=("police", "health"))
    with db.engine.begin() as conn:
        for table in ("person_orgs", "person_houses", "people"):
            conn.execute(text(f"DELETE FROM {table}"))
    # police through the service with strict thresholds, so the queue has items to work
    run_import(
        db,
        "police",
        load_mapping(src / "police_hukou.toml"),
        [src / "police_hukou.xlsx"],
        now=lambda: datetime.now(UTC),
        link_settings=LinkSettings(merge_probability=0.999999, review_probability=0.5),
    )
    env = {
        "YITU_DATABASE_URL": url,
        "YITU_AUDIT_KEY": AUDIT_KEY,
        "YITU_DATA_DIR": str(tmp_path / "data"),
    }

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    args = (
        "import",
        "run",
        "--source",
        "health",
        "--mapping",
        str(src / "health.toml"),
        "--no-progress",
        "--merge-at",
        "0.999999",
        "--review-at",
        "0.5",
        "--rejects",
        str(tmp_path / "rejects.csv"),
        str(src / "health.csv"),
    )
    out = run(*args)
    rows = re.search(
        r"health\.csv: (\d+) rows = (\d+) accepted \+ (\d+) merged \+ (\d+) rejected", out
    )
    assert rows is not None, out
    total, accepted, merged, rejected = (int(g) for g in rows.groups())
    assert total == accepted + merged + rejected and merged > 0
    assert "linkage:" in out
    assert (tmp_path / "rejects.csv").read_text(encoding="utf-8-sig").count("\n") == rejected + 1
    assert "already imported: nothing changed" in run(*args)

    out = run("import", "report", "--out", str(tmp_path / "report"))
    assert (tmp_path / "report" / "quality.html").exists()
    assert (tmp_path / "report" / "quality.xlsx").exists()
    assert (tmp_path / "report" / "rejects.xlsx").exists()

    listing = run("import", "review", "list", "--limit", "5")
    items = [json.loads(line) for line in listing.splitlines() if line.startswith("{")]
    assert items and not ID_RE.search(listing) and not MOBILE_RE.search(listing)
    first, second = items[0], items[1]
    assert "merged person" in run("import", "review", "merge", str(first["id"]))
    assert "rejected" in run("import", "review", "reject", str(second["id"]))
    again = CliRunner().invoke(cli, ["import", "review", "reject", str(second["id"])], env=env)
    assert again.exit_code != 0 and "already decided" in again.output
    with db.engine.connect() as conn:
        statuses = dict(
            conn.execute(
                select(ReviewItem.id, ReviewItem.status).where(
                    ReviewItem.id.in_([first["id"], second["id"]])
                )
            ).all()
        )
        assert statuses == {first["id"]: "merged", second["id"]: "rejected"}
        gone = max(first["a"]["person_id"], first["b"]["person_id"])
        assert conn.execute(select(Person.id).where(Person.id == gone)).first() is None
        audited = conn.execute(
            text(
                "SELECT count(*) FROM audit_events WHERE actor_role = 'cli' AND detail LIKE "
                "'intake review %'"
            )
        ).scalar_one()
        assert audited == 2
    db.dispose()
