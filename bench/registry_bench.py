"""Registry spatial queries at 老河口 scale, each next to the naive way in the same run.

Builds a fresh, migrated database (SQLite file, or a PostgreSQL database named by
``--database-url``) and fills it with synthetic rows drawn with numpy over the county's extent:
buildings with rectangular footprints, one person and one current resident relation
(person_houses, carrying the house's level-10 code) per resident. The naive peer is the same
rows in tables with plain lon/lat (and bbox) columns and a composite (lat, lon) B-tree index,
queried with BETWEEN.

Queries (each measured ``--n`` times at random places, p50/p99 in ms):

* person by ID number (the same indexed lookup on both sides: a control);
* building containing a point (yitu: ``spatial.building_containing``);
* people in a level-7 grid cell (≈ 8 m; yitu: ``spatial.people_in_cell``);
* buildings in a map viewport (≈ 300 m × 300 m; yitu: ``spatial.buildings_in_bbox``).

yitu's queries run through an ORM session with a county-wide jurisdiction scope (the operator's),
so ``node_id IN scope`` is part of every statement, as in production.

    .venv/bin/python bench/registry_bench.py
    .venv/bin/python bench/registry_bench.py --database-url postgresql+psycopg://…/yitu_regbench
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import Point, box, shape
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from yitu.access.jurisdiction import load_divisions
from yitu.access.models import JurisdictionNode
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED, Scope
from yitu.core.db import Database
from yitu.core.migrate import upgrade
from yitu.grid import vector
from yitu.people.idnumber import make_id_number
from yitu.people.models import Person
from yitu.registry import spatial
from yitu.registry.models import Building, House, PersonHouse

WEST, SOUTH, EAST, NORTH = 111.45, 32.20, 111.95, 32.60  # 老河口市 extent (approx.)
TODAY = date(2026, 11, 26)


def _pg_create(url: str) -> None:
    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{u.database}"'))
    admin.dispose()


def _fill(
    db: Database, n_buildings: int, n_people: int, rng: np.random.Generator
) -> dict[str, Any]:
    # Buildings cluster around towns (people live in towns and villages, not uniformly).
    centres = np.column_stack([rng.uniform(WEST + 0.02, EAST - 0.02, 200),
                               rng.uniform(SOUTH + 0.02, NORTH - 0.02, 200)])
    which = rng.integers(0, len(centres), n_buildings)
    lon = centres[which, 0] + rng.normal(0, 0.006, n_buildings)
    lat = centres[which, 1] + rng.normal(0, 0.005, n_buildings)
    wdt = rng.uniform(0.00008, 0.0005, n_buildings)
    hgt = rng.uniform(0.00006, 0.0003, n_buildings)
    west, south = lon - wdt / 2, lat - hgt / 2
    east, north = lon + wdt / 2, lat + hgt / 2
    codes = vector.encode_int(lon, lat, 10)
    with db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        load_divisions(session)
        node_ids = [n for (n,) in session.execute(select(JurisdictionNode.id))]
    node = np.array(node_ids)[rng.integers(0, len(node_ids), n_buildings)]
    t0 = time.perf_counter()
    rows = [
        {"id": i + 1, "node_id": int(node[i]), "name": f"{i + 1}号楼", "door_number": "",
         "use": "residential", "structure": "frame", "floors": 6, "basement_floors": 0,
         "height_m": 18.0, "ground_m": 80.0,
         "footprint": json.dumps({"type": "Polygon", "coordinates": [[
             [west[i], south[i]], [east[i], south[i]], [east[i], north[i]],
             [west[i], north[i]], [west[i], south[i]]]]}),
         "lon": float(lon[i]), "lat": float(lat[i]), "west": float(west[i]),
         "south": float(south[i]), "east": float(east[i]), "north": float(north[i]),
         "code": int(codes[i]), "code3d": ""}
        for i in range(n_buildings)
    ]
    home = rng.integers(0, n_buildings, n_people)
    births = [date(1930 + int(y), 1 + int(m), 1 + int(d)) for y, m, d in zip(
        rng.integers(0, 90, n_people), rng.integers(0, 12, n_people),
        rng.integers(0, 28, n_people), strict=True)]
    created = datetime(2026, 1, 1, tzinfo=timezone.utc)  # noqa: UP017
    people = [
        {"id": i + 1, "node_id": int(node[home[i]]), "name": "某某",
         "id_number": make_id_number("420682", births[i], i), "phone": "",
         "address": "", "gender": "M", "birth_date": births[i],
         "registration_type": ("hukou", "floating", "lodging")[i % 3], "ethnicity": "汉族",
         "hukou_place": "", "care_tags": "", "created_at": created}
        for i in range(n_people)
    ]
    with db.engine.begin() as conn:
        conn.execute(Building.__table__.insert(), rows)
        conn.execute(Person.__table__.insert(), people)
        # one house per building (the queries read person_houses, which carries the code)
        conn.execute(House.__table__.insert(), [
            {"id": r["id"], "node_id": r["node_id"], "building_id": r["id"], "unit": 1,
             "floor": 1, "number": "101", "use": "self_occupied", "area_m2": 90.0,
             "lon": r["lon"], "lat": r["lat"], "height_m": 80.0, "code": r["code"],
             "code3d": "", "layer": 0}
            for r in rows
        ])
        conn.execute(PersonHouse.__table__.insert(), [
            {"id": i + 1, "node_id": int(node[home[i]]), "person_id": i + 1,
             "house_id": int(home[i]) + 1, "relation": "householder",
             "valid_from": date(2020, 1, 1), "valid_to": None, "source": "",
             "code": int(codes[home[i]]), "code3d": ""}
            for i in range(n_people)
        ])
        # the naive peer: the same rows with lon/lat columns and a composite index
        conn.execute(text("CREATE TABLE naive_buildings (id INTEGER PRIMARY KEY, lon FLOAT, "
                          "lat FLOAT, west FLOAT, south FLOAT, east FLOAT, north FLOAT, "
                          "footprint TEXT)"))
        conn.execute(text("INSERT INTO naive_buildings SELECT id, lon, lat, west, south, east, "
                          "north, footprint FROM buildings"))
        conn.execute(text("CREATE INDEX ix_naive_buildings_latlon ON naive_buildings (lat, lon)"))
        conn.execute(text("CREATE TABLE naive_residents (id INTEGER PRIMARY KEY, "
                          "person_id INTEGER, lon FLOAT, lat FLOAT)"))
        conn.execute(text("INSERT INTO naive_residents SELECT ph.id, ph.person_id, b.lon, b.lat "
                          "FROM person_houses ph JOIN buildings b ON b.id = ph.house_id"))
        conn.execute(text("CREATE INDEX ix_naive_residents_latlon ON naive_residents (lat, lon)"))
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return {"lon": lon, "lat": lat, "node_ids": node_ids, "load_s": time.perf_counter() - t0,
            "max_dlon": float(wdt.max()), "max_dlat": float(hgt.max())}


def _time(fn: Callable[[int], Any], n: int) -> tuple[float, float]:
    for i in range(min(20, n)):
        fn(i)  # warm caches (statement cache, cover tables)
    ts = []
    for i in range(n):
        t = time.perf_counter()
        fn(i + 1000)
        ts.append((time.perf_counter() - t) * 1000)
    ts.sort()
    return statistics.median(ts), ts[min(len(ts) - 1, math.ceil(0.99 * len(ts)) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default="")
    ap.add_argument("--buildings", type=int, default=150_000)
    ap.add_argument("--people", type=int, default=530_000)
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    rng = np.random.default_rng(42)
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'regbench.db'}"
    if url.startswith("postgresql"):
        _pg_create(url)
    upgrade(url)
    db = Database(url)
    info = _fill(db, args.buildings, args.people, rng)
    lon, lat = info["lon"], info["lat"]
    scope = Scope(frozenset(info["node_ids"]))
    session = db.session(**{SCOPE_KEY: scope}).__enter__()
    raw = db.engine.connect()
    pts = rng.integers(0, len(lon), 5000)
    # points inside buildings (half) and jittered nearby (half)
    qx = lon[pts] + np.where(np.arange(5000) % 2, rng.normal(0, 0.0003, 5000), 0)
    qy = lat[pts] + np.where(np.arange(5000) % 2, rng.normal(0, 0.0003, 5000), 0)
    ids = [r[0] for r in raw.execute(text("SELECT id_number FROM people ORDER BY id LIMIT 5000"))]
    cells7 = vector.int_parent(vector.encode_int(lon[pts], lat[pts], 10), 7)
    c7 = vector.decode_int(cells7).bbox()
    vw, vh = 300 / 111_320 / math.cos(math.radians(32.4)), 300 / 111_320

    def person_by_id(i: int) -> Any:
        return session.scalars(select(Person).where(Person.id_number == ids[i % 5000])).first()

    def naive_person_by_id(i: int) -> Any:
        return raw.execute(text("SELECT * FROM people WHERE id_number = :v"),
                           {"v": ids[i % 5000]}).first()

    def containing(i: int) -> Any:
        return spatial.building_containing(session, float(qx[i % 5000]), float(qy[i % 5000]))

    def naive_containing(i: int) -> Any:
        x, y = float(qx[i % 5000]), float(qy[i % 5000])
        rows = raw.execute(text(
            "SELECT id, footprint FROM naive_buildings WHERE lat BETWEEN :s AND :n AND "
            "lon BETWEEN :w AND :e AND west <= :x AND east >= :x AND south <= :y AND north >= :y"
        ), {"s": y - info["max_dlat"], "n": y + info["max_dlat"], "w": x - info["max_dlon"],
            "e": x + info["max_dlon"], "x": x, "y": y}).all()
        p = Point(x, y)
        return [r.id for r in rows if shape(json.loads(r.footprint)).covers(p)]

    def in_cell(i: int) -> Any:
        return spatial.people_in_cell(session, int(cells7[i % 5000]), TODAY)

    def naive_in_cell(i: int) -> Any:
        j = i % 5000
        w, s, e, n = (float(v) for v in c7[j])
        # half-open like the cell; the same person rows come back
        return raw.execute(text(
            "SELECT p.* FROM naive_residents r JOIN people p ON p.id = r.person_id "
            "WHERE r.lat >= :s AND r.lat < :n AND r.lon >= :w AND r.lon < :e ORDER BY p.id"
        ), {"s": s, "n": n, "w": w, "e": e}).all()

    def viewport(i: int) -> Any:
        x, y = float(qx[i % 5000]), float(qy[i % 5000])
        return spatial.buildings_in_bbox(session, x - vw / 2, y - vh / 2, x + vw / 2, y + vh / 2)

    def naive_viewport(i: int) -> Any:
        x, y = float(qx[i % 5000]), float(qy[i % 5000])
        w, s, e, n = x - vw / 2, y - vh / 2, x + vw / 2, y + vh / 2
        rows = raw.execute(text(
            "SELECT id, west, south, east, north, footprint FROM naive_buildings "
            "WHERE lat BETWEEN :s0 AND :n0 AND lon BETWEEN :w0 AND :e0 AND west <= :e AND "
            "east >= :w AND south <= :n AND north >= :s ORDER BY id"
        ), {"s0": s - info["max_dlat"], "n0": n + info["max_dlat"], "w0": w - info["max_dlon"],
            "e0": e + info["max_dlon"], "w": w, "s": s, "e": e, "n": n}).all()
        q = box(w, s, e, n)
        return [r.id for r in rows if (r.west >= w and r.east <= e and r.south >= s
                                       and r.north <= n) or shape(json.loads(r.footprint))
                .intersects(q)]

    # the answers agree before anything is timed
    for i in range(200):
        b = containing(i)
        assert (b.id if b else None) in ([None] if not naive_containing(i) else naive_containing(i))
        assert [p.id for p in in_cell(i)] == [r.id for r in naive_in_cell(i)]
        assert [b.id for b in viewport(i)] == naive_viewport(i)
    n_view = statistics.mean(len(viewport(i)) for i in range(200))
    n_cell = statistics.mean(len(in_cell(i)) for i in range(200))

    dialect = db.engine.dialect.name
    print(f"registry benchmark: {dialect}, {args.buildings} buildings, {args.people} people "
          f"(+ {args.people} relations), load {info['load_s']:.1f} s, {args.n} queries each; "
          f"viewport 300 m × 300 m holds {n_view:.0f} buildings on average, a level-7 cell "
          f"{n_cell:.1f} residents")
    print(f"{'query':32s} {'yitu p50':>9s} {'p99':>7s} {'naive p50':>10s} {'p99':>7s} "
          f"{'p50 ratio':>10s} {'p99 ratio':>10s}")
    for name, ours, naive in [
        ("person by ID number", person_by_id, naive_person_by_id),
        ("building containing a point", containing, naive_containing),
        ("people in a level-7 cell", in_cell, naive_in_cell),
        ("buildings in a 300 m viewport", viewport, naive_viewport),
    ]:
        a50, a99 = _time(ours, args.n)
        b50, b99 = _time(naive, args.n)
        print(f"{name:32s} {a50:9.2f} {a99:7.2f} {b50:10.2f} {b99:7.2f} "
              f"{b50 / a50:9.2f}x {b99 / a99:9.2f}x")
    print("ratio = naive / yitu (> 1: yitu faster). yitu adds the jurisdiction scope and ORM "
          "entities; the naive peer runs raw SQL without a scope.")
    session.close()
    raw.close()
    db.dispose()


if __name__ == "__main__":
    main()
