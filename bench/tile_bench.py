"""Vector tile latency at 老河口 scale, next to two peers in the same run.

Data: the demo county (``yitu demo generate --scale laohekou --seed 1``: ~228k buildings),
generated into ``--db`` (a SQLite file, default ``data/tile_bench.db``) or ``--database-url`` on
the first run and reused after (``--regenerate`` rebuilds it).

Tiles: ``--n`` tiles per zoom (12, 14, 16 by default), each the tile holding a building drawn at
random (seeded), so tiles fall where the county has content. Measured per tile, in ms:

* **yitu cold**: ``GET /api/v1/tiles/z/x/y.mvt`` through the real app (login, bearer session,
  jurisdiction scope of a county-wide operator) with the tile cache cleared before the request:
  BeiDou code-range query + MVT encoding;
* **yitu warm**: the same request again (LRU hit, ETag); and a revalidation with
  ``If-None-Match`` (304);
* **yitu direct**: the tile built by ``tiles.build_tile`` in a scoped session (no HTTP, no
  cache): the code-range query and the encoding alone;
* **peer naive bbox MVT**: the same tile built by the same code in the same scoped session,
  but with the buildings read by a plain ``west <= e AND east >= w AND …`` bbox query (no code
  ranges) — what one writes without the grid index; compared with *yitu direct*;
* **peer GeoJSON**: the registry's ``GET /api/v1/registry/geojson/buildings?bbox=…`` of the
  same tile box (the same buildings as JSON; z ≥ 14 only: a z12 tile holds more than its
  5000-feature limit).

Ratios are peer ÷ yitu (> 1: yitu is faster).

    .venv/bin/python bench/tile_bench.py --n 200
    .venv/bin/python bench/tile_bench.py --n 200 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/yitu_tilebench
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text

from yitu.access import users
from yitu.access.deps import scoped_session
from yitu.access.jurisdiction import get_node
from yitu.access.models import User
from yitu.access.principal import Principal
from yitu.access.roles import Role
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED, resolve_scope
from yitu.api.app import create_app
from yitu.core.clock import SystemClock
from yitu.core.migrate import upgrade
from yitu.core.settings import Settings
from yitu.demo.generate import generate
from yitu.demo.load import county_loaded, load
from yitu.registry.models import Building
from yitu.runtime import Platform
from yitu.web import tiles
from yitu.web.api import tile_cache

PASSWORD = "Bench-pass-2026"
COUNTY = "420682000000"


def _pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, max(0, math.ceil(p / 100 * len(v)) - 1))]


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def prepare(url: str, scale: str, regenerate: bool, data_dir: Path) -> Platform:
    upgrade(url)
    settings = Settings(database_url=url, data_dir=data_dir, audit_key="tile-bench-key-0123456789",
                        _env_file=None)
    platform = Platform.build(settings, SystemClock())
    with platform.db.engine.connect() as conn:
        loaded = county_loaded(conn)
    if regenerate or not loaded:
        started = time.perf_counter()
        print(f"generating the {scale} demo county …", flush=True)
        load(platform.db, generate(scale, 1), replace=loaded)
        print(f"  loaded in {time.perf_counter() - started:.1f} s", flush=True)
    with platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        if session.scalar(select(User.id).where(User.username == "tile_bench")) is None:
            users.create_user(session, platform.clock, "tile_bench", PASSWORD,
                              role=Role.OPERATOR, scope_codes=[COUNTY],
                              must_change_password=False)
    return platform


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default="data/tile_bench.db", help="SQLite file (default)")
    ap.add_argument("--database-url", default=None, help="any database URL instead of --db")
    ap.add_argument("--scale", default="laohekou")
    ap.add_argument("--regenerate", action="store_true")
    ap.add_argument("--n", type=int, default=200, help="tiles per zoom")
    ap.add_argument("--zooms", default="12,14,16")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if args.database_url:
        url = args.database_url
        if url.startswith("postgresql"):
            base, name = url.rsplit("/", 1)
            eng = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
            with eng.connect() as conn:
                if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                   {"n": name}):
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
            eng.dispose()
    else:
        Path(args.db).parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{Path(args.db).as_posix()}"
    data_dir = Path(tempfile.mkdtemp(prefix="tile-bench-"))
    platform = prepare(url, args.scale, args.regenerate, data_dir)
    client = TestClient(create_app(platform))
    r = client.post("/api/v1/auth/login", json={"username": "tile_bench", "password": PASSWORD})
    r.raise_for_status()
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    cache = tile_cache(platform)

    with platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        n_buildings = session.scalar(select(Building.id).order_by(Building.id.desc()).limit(1))
        points = np.array(session.execute(select(Building.lon, Building.lat)).all())
        scope = resolve_scope(session, [get_node(session, COUNTY).id])
    principal = Principal(0, "tile_bench", Role.OPERATOR, 0, scope)
    rng = np.random.default_rng(args.seed)
    zooms = [int(z) for z in args.zooms.split(",")]
    print(f"tile benchmark: {platform.db.dialect}, {len(points)} buildings (max id "
          f"{n_buildings}), {args.n} tiles per zoom, operator scope {len(scope.node_ids)} nodes")
    # warm the process: footprints parsed, small layers loaded, statements compiled
    for z in zooms:
        for lon, lat in points[rng.integers(0, len(points), 20)]:
            zz, x, y = _tile_of(lon, lat, z)
            client.get(f"/api/v1/tiles/{zz}/{x}/{y}.mvt", headers=headers).raise_for_status()

    header = (f"{'zoom':>4} {'bytes':>7} {'cold p50':>8} {'p99':>7} {'warm p50':>8} {'p99':>6} "
              f"{'304 p50':>7} {'direct p50':>10} {'p99':>7} {'naive p50':>9} {'p99':>7} "
              f"{'geojson p50':>11} {'p99':>7}  {'naive/direct':>12} {'geojson/cold':>12} "
              f"{'cold/warm':>9}")
    rows = []
    for z in zooms:
        picks = points[rng.integers(0, len(points), args.n)]
        cold, warm, not_modified, direct, naive, geo, size = [], [], [], [], [], [], []
        for lon, lat in picks:
            zz, x, y = _tile_of(lon, lat, z)
            path = f"/api/v1/tiles/{zz}/{x}/{y}.mvt"
            cache.tiles.clear()
            cache.size = 0
            t0 = time.perf_counter()
            r = client.get(path, headers=headers)
            t1 = time.perf_counter()
            r.raise_for_status()
            size.append(len(r.content))
            r2 = client.get(path, headers=headers)
            t2 = time.perf_counter()
            r3 = client.get(path, headers={**headers, "If-None-Match": r2.headers["etag"]})
            t3 = time.perf_counter()
            assert r2.content == r.content and r3.status_code == 304
            cold.append((t1 - t0) * 1000)
            warm.append((t2 - t1) * 1000)
            not_modified.append((t3 - t2) * 1000)
            # yitu direct, then peer 1: the same tile, buildings from a naive bbox query
            with scoped_session(platform, principal) as session:
                version = cache.version(session)
                small = cache.small(session, version)
                roads = cache.visible_roads(session, version, scope)
                t40 = time.perf_counter()
                mine = tiles.build_tile(session, small, roads, scope, zz, x, y)
                t4 = time.perf_counter()
                data = tiles.build_tile(session, small, roads, scope, zz, x, y,
                                        buildings=tiles.buildings_by_lonlat_bbox)
                t5 = time.perf_counter()
            direct.append((t4 - t40) * 1000)
            naive.append((t5 - t4) * 1000)
            assert mine == r.content and data == r.content, "the peers built different tiles"
            if z >= tiles.BUILDINGS_MIN_ZOOM:
                w, s, e, n = tiles.tile_bounds(zz, x, y, tiles.BUFFER)
                t6 = time.perf_counter()
                g = client.get(f"/api/v1/registry/geojson/buildings?bbox={w},{s},{e},{n}",
                               headers=headers)
                t7 = time.perf_counter()
                g.raise_for_status()
                geo.append((t7 - t6) * 1000)
        c50, w50 = statistics.median(cold), statistics.median(warm)
        d50 = statistics.median(direct)
        g50 = statistics.median(geo) if geo else float("nan")
        g99 = _pct(geo, 99) if geo else float("nan")
        rows.append(
            f"{z:>4} {int(statistics.median(size)):>7} {c50:>8.2f} {_pct(cold, 99):>7.2f} "
            f"{w50:>8.2f} {_pct(warm, 99):>6.2f} {statistics.median(not_modified):>7.2f} "
            f"{d50:>10.2f} {_pct(direct, 99):>7.2f} "
            f"{statistics.median(naive):>9.2f} {_pct(naive, 99):>7.2f} {g50:>11.2f} {g99:>7.2f}  "
            f"{statistics.median(naive) / d50:>11.2f}x {g50 / c50:>11.2f}x {c50 / w50:>8.1f}x"
        )
        print(f"  zoom {z} done", file=sys.stderr, flush=True)
    print(header)
    for row in rows:
        print(row)
    print("(ms, p50/p99 per tile; cold/warm/304/geojson through HTTP, direct/naive in process; "
          "ratios > 1: yitu faster)")
    client.close()
    platform.db.dispose()


if __name__ == "__main__":
    main()
