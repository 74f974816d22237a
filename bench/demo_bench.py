"""Benchmark of `yitu demo generate --scale laohekou` (not a test).

For each database (SQLite file; PostgreSQL if ``--pg URL`` is given): migrate a fresh database,
run the CLI in a subprocess, and report wall time, the phases it prints and the child's peak
RSS. Peer in the same run: the same 20 000 person rows inserted one ORM object at a time
(``session.add`` + flush per row, the naive path) against the generator's bulk loader
(``executemany``/``COPY`` of the same rows), printed as a ratio.

    .venv/bin/python bench/demo_bench.py [--scale laohekou] [--pg postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from yitu.core.db import Database
from yitu.core.migrate import upgrade
from yitu.demo.generate import TODAY, generate
from yitu.demo.load import load
from yitu.people.models import Person

PEER_ROWS = 20_000


def _fresh(kind: str, pg: str | None, tmp: Path) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.db'}", None
    assert pg
    name = f"yitu_demo_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(pg).set(database=name).render_as_string(hide_password=False), name


def _drop(pg: str | None, name: str | None) -> None:
    if pg and name:
        admin = create_engine(pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_cli(url: str, scale: str, tmp: Path) -> tuple[float, float, str]:
    """Run the CLI in a child; its own peak RSS comes from ``wait4`` (not the maximum over
    every child this process ever had)."""
    upgrade(url)
    env = {**os.environ, "YITU_DATABASE_URL": url, "YITU_DATA_DIR": str(tmp / "data")}
    cmd = [str(Path(sys.executable).with_name("yitu")), "demo", "generate", "--scale", scale]
    cmd += ["--seed", "1", "--no-progress"]
    log = tmp / "cli.out"
    t0 = time.perf_counter()
    with log.open("w") as out:
        child = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t0
    child.returncode = os.waitstatus_to_exitcode(status)
    text_out = log.read_text()
    if child.returncode:
        raise SystemExit(f"yitu demo generate failed:\n{text_out}")
    return wall, usage.ru_maxrss / 1024, text_out.strip()


def stats(url: str) -> str:
    """What the loaded county holds: the numbers the issue asks for."""
    engine = create_engine(url)
    today = TODAY.isoformat()
    sixty = f"{TODAY.year - 60:04d}{TODAY:-%m-%d}"
    with engine.connect() as conn:

        def one(sql: str) -> int:
            return int(conn.execute(text(sql)).scalar() or 0)

        people = one("SELECT count(*) FROM people")
        kinds = dict(
            conn.execute(
                text("SELECT registration_type, count(*) FROM people GROUP BY registration_type")
            ).all()
        )
        rels = dict(
            conn.execute(
                text("SELECT relation, count(*) FROM person_houses GROUP BY relation")
            ).all()
        )
        old = one(f"SELECT count(*) FROM people WHERE birth_date <= '{sixty}'")
        alone = one("SELECT count(*) FROM people WHERE care_tags LIKE '%elderly_alone%'")
        ended = one("SELECT count(*) FROM person_houses WHERE valid_to IS NOT NULL")
        lines = [
            f"buildings {one('SELECT count(*) FROM buildings'):,}, "
            f"rooms {one('SELECT count(*) FROM houses'):,}, "
            f"roads {one('SELECT count(*) FROM roads'):,}, "
            f"map features {one('SELECT count(*) FROM map_features')}",
            f"people {people:,}: aged 60+ {old:,} ({old / max(people, 1):.1%}), "
            f"elderly living alone "
            f"{alone:,}; " + ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())),
            f"person-house rows {sum(rels.values()):,} "
            f"(ended {ended:,}, current on {today}: {sum(rels.values()) - ended:,}): "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(rels.items())),
            f"organisations {one('SELECT count(*) FROM organisations'):,}, "
            f"person-organisation relations {one('SELECT count(*) FROM person_orgs'):,}",
        ]
    engine.dispose()
    return "\n".join(lines)


def town_generation(scale_seconds: float | None) -> str:
    """In-process generation of the `town` scale (what its test loads), next to laohekou."""
    t0 = time.perf_counter()
    demo = generate("town", 1)
    took = time.perf_counter() - t0
    line = (
        f"generate --scale town (in process, no load): {took:.1f} s for "
        f"{demo.count('buildings'):,} buildings, {demo.count('people'):,} people"
    )
    if scale_seconds:
        line += f"; laohekou generate phases take {scale_seconds / took:.1f}x as long"
    return line


def peer(url: str) -> tuple[float, float]:
    """Seconds for PEER_ROWS people: ORM row by row vs the bulk loader's path."""
    upgrade(url)
    demo = generate("town", 1)
    people = demo.tables["people"]
    n = PEER_ROWS
    cols = {k: v[:n] for k, v in people.items()}  # type: ignore[index]
    db = Database(url)
    load(db, demo)  # gives the grids; the timing below inserts fresh rows on top
    with db.engine.connect() as conn:
        grid = conn.execute(text("SELECT min(id) FROM jurisdiction_nodes WHERE level='grid'"))
        node = grid.scalar()
    t0 = time.perf_counter()
    with db.sessions() as session, session.begin():
        for i in range(n):
            session.add(Person(**{k: (node if k == "node_id" else v[i]) for k, v in cols.items()}))
            session.flush()
    naive = time.perf_counter() - t0
    # Bulk: the loader's own path for a table of the same n rows.
    from yitu.demo.load import _columns, _rows

    base = {"people": 10_000_000}
    demo.tables = {"people": {**cols, "node_id": [0] * n}}
    sqlite = db.dialect == "sqlite"
    names, data = _columns(
        demo, "people", base, {"grid": __import__("numpy").array([node])}, sqlite
    )
    t0 = time.perf_counter()
    with db.engine.begin() as conn:
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        if sqlite:
            cur.executemany(
                f"INSERT INTO people ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                list(_rows(data, 0, n)),
            )
        else:
            with cur.copy(f"COPY people ({', '.join(names)}) FROM STDIN") as copy:
                for row in _rows(data, 0, n):
                    copy.write_row(row)
    bulk = time.perf_counter() - t0
    db.dispose()
    return naive, bulk


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="laohekou")
    ap.add_argument("--pg", default=None, help="PostgreSQL admin URL (creates/drops a database)")
    args = ap.parse_args()
    kinds = ["sqlite"] + (["postgresql"] if args.pg else [])
    gen = None
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for kind in kinds:
            url, name = _fresh(kind, args.pg, tmp)
            try:
                wall, peak, out = run_cli(url, args.scale, tmp)
                print(
                    f"[{kind}] yitu demo generate --scale {args.scale} --seed 1: "
                    f"{wall:.1f} s wall, peak RSS {peak:.0f} MiB"
                )
                print("   " + out.replace("\n", "\n   "))
                print("   " + stats(url).replace("\n", "\n   "))
                gen = sum(float(v[:-1]) for k, v in _phases(out).items() if k != "load")
            finally:
                _drop(args.pg, name)
            url, name = _fresh(kind, args.pg, tmp)
            try:
                naive, bulk = peer(url)
                print(
                    f"[{kind}] {PEER_ROWS:,} people: ORM row by row {naive:.2f} s "
                    f"({PEER_ROWS / naive:,.0f}/s), bulk loader {bulk:.2f} s "
                    f"({PEER_ROWS / bulk:,.0f}/s): bulk is {naive / bulk:.1f}x faster"
                )
            finally:
                _drop(args.pg, name)
        print(town_generation(gen))


def _phases(out: str) -> dict[str, str]:
    """``time 58.7s (geography 2.1s, …, load 38.1s)`` → {"geography": "2.1s", …}."""
    inner = out.rsplit("(", 1)[-1].rstrip(")")
    return dict(part.split() for part in inner.split(", ") if len(part.split()) == 2)


if __name__ == "__main__":
    main()
