"""Registry queries on the generated 老河口 county, each next to the naive way in the same run.

Data: the demo county (``yitu demo generate --scale laohekou --seed 1``: 223k buildings, 425k
people, 558k person–house rows), generated into the database on the first run and reused after
(``--regenerate`` to rebuild it). The naive peer gets copies of the same rows in tables with
plain lon/lat columns and a composite B-tree index led by (lat, lon) and covering the same
columns as yitu's code index (bbox; relation, dates, person), queried with BETWEEN.

Both sides do the same work: the same columns, the same jurisdiction scope filter
(``spatial.scoper``/``scope_bind``: the scope's runs of consecutive node ids, ``BETWEEN`` on
SQLite, one ``int4multirange`` on PostgreSQL, with the county-wide operator scope, every
node; ``--scope unrestricted``: none on either side), the same extent bound from
``registry_extent`` where both need it — the naive side reads it before each viewport and
containment query, yitu's viewport checks the bound it assumed inside its one statement
(``spatial._bbox_rows_checked``) and yitu's containment probes ``building_cells`` and needs
none — the same
exact shapely test, each side with its own footprint cache, Core statements executed on the
same session's connection. The two sides are timed interleaved, query by query, the side going first
alternating (so neither reads rows the other just brought into the database's buffers, and
bursts of load from other processes hit both alike).
The answers are checked equal on 300 queries before anything is timed. On PostgreSQL the
database is VACUUM ANALYZEd after preparing (what autovacuum does soon after a load).

Queries (each measured ``--n`` times at random places, p50/p99 in ms):

* person by ID number (``services.search_people``; the same indexed lookup on both sides: a
  control for the platform overhead);
* building containing a point (``spatial.building_containing``: one probe of the point's
  level-6 cell in ``building_cells``; the naive peer scans the lat/lon box of the point grown
  by the extent bound; half the points inside a building, half jittered ±30 m);
* people in a level-7 grid cell (≈ 7 m; ``spatial.people_in_cell``: person rows) and their
  counts by registration type (``spatial.count_people_in_cell``: what the API answers);
* buildings in a map viewport (300 m × 300 m; ``spatial.buildings_in_bbox``).

    .venv/bin/python bench/registry_bench.py --n 1000
    .venv/bin/python bench/registry_bench.py --n 1000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/yitu_regbench
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import Point, box
from sqlalchemy import (
    Column,
    Connection,
    Date,
    Float,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    bindparam,
    create_engine,
    func,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.engine import make_url

from yitu.access.models import JurisdictionNode
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED, Scope
from yitu.core.db import Database
from yitu.core.migrate import upgrade
from yitu.grid import vector
from yitu.people.models import Person
from yitu.registry import services, spatial

TODAY = date(2026, 11, 26)
DEFAULT_URL = "sqlite:////tmp/yitu-regbench/laohekou.db"
VIEW_M = 300.0

meta = MetaData()
naive_buildings = Table(
    "naive_buildings",
    meta,
    *[Column(c.name, c.type, primary_key=c.primary_key) for c in spatial.BUILDING_COLUMNS],
)
naive_residents = Table(
    "naive_residents",
    meta,
    Column("id", Integer, primary_key=True),
    Column("person_id", Integer),
    Column("node_id", Integer),
    Column("relation", String(20)),
    Column("valid_from", Date),
    Column("valid_to", Date),
    Column("lon", Float),
    Column("lat", Float),
)


def _prepare(url: str, scale: str, seed: int, regenerate: bool) -> None:
    u = make_url(url)
    if u.get_backend_name() == "postgresql":
        admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": u.database}
            )
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{u.database}"'))
        admin.dispose()
    elif u.database:
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.scalar(text("SELECT count(*) FROM buildings"))
    if n == 0 or regenerate:
        print(f"generating the {scale} demo county (seed {seed}) …", flush=True)
        env = {
            **os.environ,
            "YITU_DATABASE_URL": url,
            "YITU_DATA_DIR": str(Path("/tmp/yitu-regbench/data")),
        }
        cmd = [
            str(Path(sys.executable).with_name("yitu")),
            "demo",
            "generate",
            "--scale",
            scale,
            "--seed",
            str(seed),
            "--no-progress",
        ] + (["--replace"] if n else [])
        subprocess.run(cmd, env=env, check=True)
    with engine.begin() as conn:
        nb = conn.scalar(text("SELECT count(*) FROM buildings"))
        have = (
            conn.scalar(text("SELECT count(*) FROM naive_buildings"))
            if _has(conn, "naive_buildings")
            else -1
        )
        if have != nb:
            t0 = time.perf_counter()
            meta.drop_all(conn)
            meta.create_all(conn)
            cols = ", ".join(c.name for c in spatial.BUILDING_COLUMNS)
            conn.execute(text(f"INSERT INTO naive_buildings ({cols}) SELECT {cols} FROM buildings"))
            # the same columns as ix_buildings_code_cover, led by (lat, lon) instead of code
            conn.execute(
                text(
                    "CREATE INDEX ix_naive_buildings_latlon ON naive_buildings "
                    "(lat, lon, west, east, south, north)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO naive_residents (id, person_id, node_id, relation, valid_from, "
                    "valid_to, lon, lat) SELECT ph.id, ph.person_id, ph.node_id, ph.relation, "
                    "ph.valid_from, ph.valid_to, h.lon, h.lat FROM person_houses ph "
                    "JOIN houses h ON h.id = ph.house_id"
                )
            )
            # the same columns as ix_person_houses_code_cover, led by (lat, lon)
            conn.execute(
                text(
                    "CREATE INDEX ix_naive_residents_latlon ON naive_residents "
                    "(lat, lon, relation, valid_to, valid_from, person_id)"
                )
            )
            print(f"naive tables built in {time.perf_counter() - t0:.1f} s", flush=True)
    if u.get_backend_name() == "postgresql":
        # what autovacuum does soon after a load anyway, for both sides' tables: statistics,
        # and the visibility map that lets a probe of building_cells skip the heap
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()


def _has(conn: Connection, table: str) -> bool:
    from sqlalchemy import inspect

    return inspect(conn).has_table(table)


def _time(
    ours: Callable[[int], Any], naive: Callable[[int], Any], n: int
) -> tuple[float, float, float, float]:
    """p50/p99 (ms) of both sides, interleaved query by query, the side going first
    alternating: a side run second at the same place would find the rows the first one read in
    the database's buffers, and a burst of load from the other sessions on this shared machine
    hits both sides alike. Each side keeps its own footprint cache (``spatial.footprint``
    parses a footprint once per process), starting empty."""
    caches: list[dict[Any, Any]] = [{}, {}]
    spatial._cells_ranges.cache_clear()
    ts: list[list[float]] = [[], []]
    sides = (ours, naive)
    for i in range(-min(50, n), n):  # the first 50 warm statement caches
        for k in (0, 1) if i % 2 else (1, 0):
            spatial._footprints = caches[k]
            t = time.perf_counter()
            sides[k](i + 1000)
            if i >= 0:
                ts[k].append((time.perf_counter() - t) * 1000)
    spatial._footprints = {}
    out: list[float] = []
    for side in ts:
        side.sort()
        out += [statistics.median(side), side[min(len(side) - 1, math.ceil(0.99 * len(side)) - 1)]]
    return out[0], out[1], out[2], out[3]


# --- the naive peer: Core statements on the lat/lon tables, the same scope filter ---

_NB = naive_buildings.c
_NR = naive_residents.c
_P = Person.__table__.c


def _naive_statements(scoper: spatial.Scoper | None) -> dict[str, Select[Any]]:
    """The naive peer's statements, with the same scope filter as yitu's (``spatial.scoper``:
    ``scope_criterion``, on PostgreSQL its one-array-parameter form), or none when the run is
    UNRESTRICTED, like the trusted CLI."""

    def _sc(table: Any) -> Any:
        return scoper(table) if scoper else true()

    def residents() -> Select[Any]:
        return select(_NR.person_id).where(
            _NR.lat >= bindparam("s"),
            _NR.lat < bindparam("n"),
            _NR.lon >= bindparam("w"),
            _NR.lon < bindparam("e"),
            _NR.relation.in_(bindparam("resident", expanding=True)),
            _NR.valid_from <= bindparam("today"),
            or_(_NR.valid_to.is_(None), _NR.valid_to > bindparam("today")),
            _sc(_NR),
        )

    return {
        "bbox": select(*[_NB[c.name] for c in spatial.BUILDING_COLUMNS]).where(
            _NB.lat.between(bindparam("s0"), bindparam("n0")),
            _NB.lon.between(bindparam("w0"), bindparam("e0")),
            _NB.west <= bindparam("e"),
            _NB.east >= bindparam("w"),
            _NB.south <= bindparam("n"),
            _NB.north >= bindparam("s"),
            _sc(_NB),
        ),
        "people": select(*spatial.PERSON_COLUMNS).where(_P.id.in_(residents()), _sc(_P)),
        "count": (
            select(_P.registration_type, func.count())
            .where(_P.id.in_(residents()), _sc(_P))
            .group_by(_P.registration_type)
        ),
        "person": (
            select(*spatial.PERSON_COLUMNS)
            .where(_P.id_number == bindparam("v"), _sc(_P))
            .order_by(_P.id)
            .limit(20)
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default=DEFAULT_URL)
    ap.add_argument("--scale", default="laohekou")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--regenerate", action="store_true")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument(
        "--scope",
        choices=("county", "unrestricted"),
        default="county",
        help="county: the operator's scope, every node, in every statement (as the "
        "API runs); unrestricted: no scope filter on either side (the trusted CLI)",
    )
    args = ap.parse_args()
    t0 = time.perf_counter()
    _prepare(args.database_url, args.scale, args.seed, args.regenerate)
    prep_s = time.perf_counter() - t0
    db = Database(args.database_url)
    rng = np.random.default_rng(42)
    with db.engine.connect() as conn:
        node_ids = list(conn.scalars(select(JurisdictionNode.id)))
        blon, blat = (
            np.array(v)
            for v in zip(*conn.execute(text("SELECT lon, lat FROM buildings")).all(), strict=True)
        )
        ids = [r[0] for r in conn.execute(text("SELECT id_number FROM people ORDER BY id"))]
        counts = {
            t: conn.scalar(text(f"SELECT count(*) FROM {t}"))
            for t in ("buildings", "people", "person_houses")
        }
    scoped = args.scope == "county"
    scope: Any = Scope(frozenset(node_ids)) if scoped else UNRESTRICTED
    dialect = db.engine.dialect.name
    shape = spatial.scope_bind(scope, dialect)[0] if scoped else None
    nst = _naive_statements(spatial.scoper(dialect, shape) if shape else None)

    def sp() -> dict[str, Any]:
        return spatial.scope_bind(scope, dialect)[1] if scoped else {}

    session = db.session(**{SCOPE_KEY: scope}).__enter__()

    def session_conn() -> Connection:
        # as yitu's functions do: the session's connection, asked for on every call
        return session.connection()

    pts = rng.integers(0, len(blon), 5000)
    jitter = np.arange(5000) % 2 == 1  # half inside a building, half ±30 m around
    qx = blon[pts] + np.where(jitter, rng.uniform(-30, 30, 5000) / 94_000, 0)
    qy = blat[pts] + np.where(jitter, rng.uniform(-30, 30, 5000) / 111_320, 0)
    pick = rng.integers(0, len(ids), 5000)
    cells7 = vector.int_parent(vector.encode_int(qx, qy, 10), 7)
    c7 = vector.decode_int(cells7).bbox()
    vw, vh = VIEW_M / (111_320 * math.cos(math.radians(32.4))), VIEW_M / 111_320
    resident = ["householder", "family_member", "tenant", "lodger"]

    def person_by_id(i: int) -> Any:
        return services.search_people(session, TODAY, id_number=ids[pick[i % 5000]])[0]

    def naive_person_by_id(i: int) -> Any:
        return session_conn().execute(nst["person"], {"v": ids[pick[i % 5000]], **sp()}).all()

    def naive_bbox_rows(w: float, s: float, e: float, n: float) -> list[Any]:
        c = session_conn()
        ext = spatial.building_extent(c)
        return c.execute(
            nst["bbox"],
            {
                "s0": s - ext.dlat,
                "n0": n + ext.dlat,
                "w0": w - ext.dlon,
                "e0": e + ext.dlon,
                "w": w,
                "s": s,
                "e": e,
                "n": n,
                **sp(),
            },
        ).all()

    def containing(i: int) -> Any:
        return spatial.building_containing(session, float(qx[i % 5000]), float(qy[i % 5000]))

    def naive_containing(i: int) -> Any:
        x, y = float(qx[i % 5000]), float(qy[i % 5000])
        p = Point(x, y)
        hits = [b for b in naive_bbox_rows(x, y, x, y) if spatial.footprint(b).covers(p)]
        return min(hits, key=lambda b: (spatial.footprint(b).area, b.id)) if hits else None

    def cell_params(i: int) -> dict[str, Any]:
        w, s, e, n = (float(v) for v in c7[i % 5000])
        return {"s": s, "n": n, "w": w, "e": e, "resident": resident, "today": TODAY, **sp()}

    def in_cell(i: int) -> Any:
        return spatial.people_in_cell(session, int(cells7[i % 5000]), TODAY)

    def naive_in_cell(i: int) -> Any:
        rows = session_conn().execute(nst["people"], cell_params(i)).all()
        return sorted(rows, key=lambda p: p.id)

    def count_cell(i: int) -> Any:
        return spatial.count_people_in_cell(session, int(cells7[i % 5000]), TODAY)

    def naive_count_cell(i: int) -> Any:
        return {str(k): int(v) for k, v in session_conn().execute(nst["count"], cell_params(i))}

    def view(i: int) -> tuple[float, float, float, float]:
        x, y = float(qx[i % 5000]), float(qy[i % 5000])
        return x - vw / 2, y - vh / 2, x + vw / 2, y + vh / 2

    def viewport(i: int) -> Any:
        return spatial.buildings_in_bbox(session, *view(i))

    def naive_viewport(i: int) -> Any:
        w, s, e, n = view(i)
        q = box(w, s, e, n)
        return [
            b
            for b in sorted(naive_bbox_rows(w, s, e, n), key=lambda b: b.id)
            if (b.west >= w and b.east <= e and b.south >= s and b.north <= n)
            or spatial.footprint(b).intersects(q)
        ]

    # the answers agree before anything is timed
    for i in range(300):
        a, b = containing(i), naive_containing(i)
        assert (a.id if a else None) == (b.id if b else None), i
        assert [p.id for p in in_cell(i)] == [p.id for p in naive_in_cell(i)], i
        assert count_cell(i) == naive_count_cell(i), i
        assert [b.id for b in viewport(i)] == [b.id for b in naive_viewport(i)], i
        assert [p.id for p in person_by_id(i)] == [p.id for p in naive_person_by_id(i)], i
    n_view = statistics.mean(len(viewport(i)) for i in range(300))
    n_cell = statistics.mean(len(in_cell(i)) for i in range(300))
    n_hit = statistics.mean(containing(i) is not None for i in range(300))

    print(
        f"registry benchmark: {dialect}, demo county {args.scale} seed {args.seed}: "
        f"{counts['buildings']} buildings, {counts['people']} people, "
        f"{counts['person_houses']} person-house rows (prepare {prep_s:.1f} s); scope "
        f"{f'{len(node_ids)} nodes, bound as {shape}' if scoped else 'unrestricted'}; "
        f"{args.n} queries "
        f"each; a 300 m viewport holds "
        f"{n_view:.0f} buildings on average, a level-7 cell {n_cell:.1f} residents, "
        f"{n_hit:.0%} of the points are in a building"
    )
    print(
        f"{'query':34s} {'yitu p50':>9s} {'p99':>7s} {'naive p50':>10s} {'p99':>7s} "
        f"{'p50 ratio':>10s} {'p99 ratio':>10s}"
    )
    for name, ours, naive in [
        ("person by ID number (control)", person_by_id, naive_person_by_id),
        ("building containing a point", containing, naive_containing),
        ("people in a level-7 cell (rows)", in_cell, naive_in_cell),
        ("people in a level-7 cell (counts)", count_cell, naive_count_cell),
        ("buildings in a 300 m viewport", viewport, naive_viewport),
    ]:
        a50, a99, b50, b99 = _time(ours, naive, args.n)
        print(
            f"{name:34s} {a50:9.2f} {a99:7.2f} {b50:10.2f} {b99:7.2f} "
            f"{b50 / a50:9.2f}x {b99 / a99:9.2f}x",
            flush=True,
        )
    load = os.getloadavg()
    print(
        f"ratio = naive / yitu (> 1: yitu faster); machine load average {load[0]:.1f} "
        f"(1 min), {load[1]:.1f} (5 min) on {os.cpu_count()} cores"
    )
    session.close()
    db.dispose()


if __name__ == "__main__":
    main()
