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
import resource
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
from yitu.demo.generate import generate
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
    upgrade(url)
    env = {**os.environ, "YITU_DATABASE_URL": url, "YITU_DATA_DIR": str(tmp / "data")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    out = subprocess.run(
        [str(Path(sys.executable).with_name("yitu")), "demo", "generate", "--scale", scale,
         "--seed", "1", "--no-progress"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024, out.strip()


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
    names, data = _columns(demo, "people", base, {"grid": __import__("numpy").array([node])},
                           sqlite)
    t0 = time.perf_counter()
    with db.engine.begin() as conn:
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        if sqlite:
            cur.executemany(f"INSERT INTO people ({', '.join(names)}) VALUES "
                            f"({', '.join('?' * len(names))})", list(_rows(data, 0, n)))
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
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for kind in kinds:
            url, name = _fresh(kind, args.pg, tmp)
            try:
                wall, peak, out = run_cli(url, args.scale, tmp)
                print(f"[{kind}] yitu demo generate --scale {args.scale} --seed 1: "
                      f"{wall:.1f} s wall, peak RSS {peak:.0f} MiB")
                print("   " + out.replace("\n", "\n   "))
            finally:
                _drop(args.pg, name)
            url, name = _fresh(kind, args.pg, tmp)
            try:
                naive, bulk = peer(url)
                print(f"[{kind}] {PEER_ROWS:,} people: ORM row by row {naive:.2f} s "
                      f"({PEER_ROWS / naive:,.0f}/s), bulk loader {bulk:.2f} s "
                      f"({PEER_ROWS / bulk:,.0f}/s): bulk is {naive / bulk:.1f}x faster")
            finally:
                _drop(args.pg, name)


if __name__ == "__main__":
    main()
