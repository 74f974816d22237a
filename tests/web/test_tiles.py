"""Vector tiles: contents against brute force over all rows, jurisdiction scope and the cache
(no tile crosses users of different scopes), HTTP caching, errors, and no personal data."""

from __future__ import annotations

import json
import math
from typing import Any

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from foundation.world import GRID_A, World
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box, shape
from sqlalchemy import event, select

from yitu.access.deps import scoped_session
from yitu.access.jurisdiction import get_node
from yitu.access.models import JurisdictionNode
from yitu.access.principal import Principal
from yitu.access.roles import Role
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED, resolve_scope
from yitu.grid import encode, vector
from yitu.registry.models import Building, MapFeature
from yitu.web import tiles
from yitu.web.api import tile_cache

#: Every property a tile may carry, per layer: map geometry attributes only, never a person.
ALLOWED_PROPS = {
    "towns": {"code", "name", "level"},
    "villages": {"code", "name", "level"},
    "grids": {"code", "name", "level"},
    "roads": {"id", "name", "kind"},
    "water": {"name", "kind", "layer"},
    "buildings": {"id", "floors", "height_m", "use"},
    "cells": {"code", "level"},
}


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def all_buildings(world: World) -> list[Building]:
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        rows = list(session.scalars(select(Building)))
        session.expunge_all()
    return rows


def get_tile(world: World, role: Role, z: int, x: int, y: int) -> dict:
    r = world.client.get(f"/api/v1/tiles/{z}/{x}/{y}.mvt", headers=world.headers(role))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == tiles_type()
    return mapbox_vector_tile.decode(r.content) if r.content else {}


def tiles_type() -> str:
    return "application/vnd.mapbox-vector-tile"


def ids(decoded: dict, layer: str) -> set[int]:
    return {f["id"] for f in decoded.get(layer, {}).get("features", [])}


@pytest.fixture(scope="module")
def dense(map_world: World) -> tuple[float, float]:
    """A point in the urban core: the building with the most neighbours within 300 m."""
    rows = all_buildings(map_world)
    pts = np.array([(b.lon, b.lat) for b in rows])
    sample = pts[:: max(1, len(pts) // 300)]
    counts = [np.sum((np.abs(pts[:, 0] - x) < 0.003) & (np.abs(pts[:, 1] - y) < 0.003))
              for x, y in sample]
    x, y = sample[int(np.argmax(counts))]
    return float(x), float(y)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 20), st.floats(0, 1, exclude_max=True), st.floats(0, 1, exclude_max=True))
def test_projection_puts_tile_corners_on_the_extent(z: int, fx: float, fy: float) -> None:
    x, y = int(fx * 2**z), int(fy * 2**z)
    w, s, e, n = tiles.tile_bounds(z, x, y)
    project = tiles._projector(z, x, y)
    corners = project(np.array([[w, n], [e, s]]))
    assert np.allclose(corners, [[0, 0], [tiles.EXTENT, tiles.EXTENT]], atol=1e-4)


@pytest.mark.parametrize("z", [14, 15, 16])
def test_buildings_in_a_tile_match_brute_force(map_world: World, dense: tuple[float, float],
                                               z: int) -> None:
    zz, x, y = tile_of(*dense, z)
    decoded = get_tile(map_world, Role.OPERATOR, zz, x, y)
    got = ids(decoded, "buildings")
    # the tile holds the footprints meeting the tile grown by its buffer; one tile unit either
    # side of that edge is left to rounding
    project = tiles._projector(zz, x, y)
    inner = box(-tiles.BUFFER + 1, -tiles.BUFFER + 1, tiles.EXTENT + tiles.BUFFER - 1,
                tiles.EXTENT + tiles.BUFFER - 1)
    outer = box(-tiles.BUFFER - 1, -tiles.BUFFER - 1, tiles.EXTENT + tiles.BUFFER + 1,
                tiles.EXTENT + tiles.BUFFER + 1)
    must, may = set(), set()
    for b in all_buildings(map_world):
        fp = shapely.transform(shape(json.loads(b.footprint)), project)
        if fp.intersects(inner):
            must.add(b.id)
        if fp.intersects(outer):
            may.add(b.id)
    assert must, "the dense tile should hold buildings"
    assert must <= got <= may
    props = {f["id"]: f["properties"] for f in decoded["buildings"]["features"]}
    by_id = {b.id: b for b in all_buildings(map_world) if b.id in got}
    for bid, p in props.items():
        assert p["floors"] == by_id[bid].floors
        assert p["height_m"] == pytest.approx(by_id[bid].height_m, abs=0.05)


def test_low_zoom_has_boundaries_and_no_buildings(map_world: World,
                                                  dense: tuple[float, float]) -> None:
    decoded = get_tile(map_world, Role.OPERATOR, *tile_of(*dense, 12))
    assert "buildings" not in decoded
    assert {"towns", "villages", "grids", "roads"} <= set(decoded)
    with map_world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        town_codes = set(session.scalars(
            select(JurisdictionNode.code).where(JurisdictionNode.level == "town")))
    assert {f["properties"]["code"] for f in decoded["towns"]["features"]} <= town_codes


def test_water_layer_when_the_county_has_a_river(map_world: World) -> None:
    cfg = map_world.client.get("/api/v1/map/config").json()
    w, s, e, n = cfg["bounds"]
    decoded = get_tile(map_world, Role.OPERATOR, *tile_of((w + e) / 2, (s + n) / 2, 8))
    with map_world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        water = session.scalar(select(MapFeature.id).limit(1))
    assert ("water" in decoded) == (water is not None)


def test_cells_layer_uses_the_level_for_the_zoom(map_world: World,
                                                 dense: tuple[float, float]) -> None:
    for z in (12, 16):
        zz, x, y = tile_of(*dense, z)
        decoded = get_tile(map_world, Role.OPERATOR, zz, x, y)
        cells = decoded["cells"]["features"]
        level = tiles.cell_level_for_zoom(z)
        codes = [f["properties"]["code"] for f in cells]
        assert all(f["properties"]["level"] == level for f in cells)
        assert set(vector.int_level(vector.str_to_int(np.array(codes, dtype="S"))).tolist()) \
            == {level}
        # the cells cover the tile: the cell of the tile's centre is there
        w, s, e, n = tiles.tile_bounds(zz, x, y)
        assert encode((w + e) / 2, (s + n) / 2, level) in codes


def test_tiles_never_carry_personal_data(map_world: World, dense: tuple[float, float]) -> None:
    for z in (10, 12, 14, 16):
        decoded = get_tile(map_world, Role.OPERATOR, *tile_of(*dense, z))
        for layer, content in decoded.items():
            for f in content["features"]:
                assert set(f["properties"]) <= ALLOWED_PROPS[layer], layer


def test_scope_decides_what_a_tile_shows_and_the_cache_keeps_users_apart(
    map_world: World,
) -> None:
    with map_world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        grid = get_node(session, GRID_A)
        mine = list(session.execute(select(Building.id, Building.lon, Building.lat).where(
            Building.node_id == grid.id)))
    assert mine, "the demo county puts buildings in the grid worker's grid"
    lon, lat = mine[0][1], mine[0][2]
    z, x, y = tile_of(lon, lat, 15)
    tile_cache(map_world.platform).clear()
    # the county-wide operator first: its tile is cached
    r_op = map_world.client.get(f"/api/v1/tiles/{z}/{x}/{y}.mvt",
                                headers=map_world.headers(Role.OPERATOR))
    op = mapbox_vector_tile.decode(r_op.content)
    r_gw = map_world.client.get(f"/api/v1/tiles/{z}/{x}/{y}.mvt",
                                headers=map_world.headers(Role.GRID_WORKER))
    gw = mapbox_vector_tile.decode(r_gw.content)
    in_grid = {row[0] for row in mine}
    assert ids(gw, "buildings") and ids(gw, "buildings") <= in_grid
    assert ids(op, "buildings") - in_grid, "the operator's tile shows neighbouring grids"
    assert r_op.headers["etag"] != r_gw.headers["etag"]
    # the grid worker sees only their own grid's boundary, no town or village
    assert {f["properties"]["code"] for f in gw.get("grids", {}).get("features", [])} <= {GRID_A}
    assert "towns" not in gw and "villages" not in gw
    # a grid worker's ETag does not validate against the operator's tile
    again = map_world.client.get(f"/api/v1/tiles/{z}/{x}/{y}.mvt", headers={
        **map_world.headers(Role.GRID_WORKER), "If-None-Match": r_op.headers["etag"]})
    assert again.status_code == 200 and again.content == r_gw.content


def test_etag_cache_control_and_304(map_world: World, dense: tuple[float, float]) -> None:
    z, x, y = tile_of(*dense, 16)
    path = f"/api/v1/tiles/{z}/{x}/{y}.mvt"
    h = map_world.headers(Role.OPERATOR)
    cache = tile_cache(map_world.platform)
    cache.clear()
    first = map_world.client.get(path, headers=h)
    hits = cache.hits
    second = map_world.client.get(path, headers=h)
    assert cache.hits == hits + 1 and second.content == first.content
    assert first.headers["cache-control"].startswith("private")
    assert first.headers["vary"] == "Authorization"
    r = map_world.client.get(path, headers={**h, "If-None-Match": first.headers["etag"]})
    assert r.status_code == 304 and r.content == b""


def test_a_new_building_shows_in_the_next_tile(fresh_map_world: World) -> None:
    w = fresh_map_world
    rows = all_buildings(w)
    b0 = rows[0]
    z, x, y = tile_of(b0.lon, b0.lat, 16)
    before = get_tile(w, Role.OPERATOR, z, x, y)
    lon, lat = b0.lon + 0.0004, b0.lat + 0.0004
    fp = box(lon - 0.00005, lat - 0.00005, lon + 0.00005, lat + 0.00005)
    with w.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        nb = Building(
            name="新楼", use="residential", structure="frame", floors=9, height_m=27.0,
            ground_m=90.0, footprint=json.dumps(fp.__geo_interface__), lon=lon, lat=lat,
            west=fp.bounds[0], south=fp.bounds[1], east=fp.bounds[2], north=fp.bounds[3],
            code=int(vector.encode_int([lon], [lat], 10)[0]), code3d="", node_id=b0.node_id,
        )
        session.add(nb)
        session.flush()
        new_id = nb.id
    after = get_tile(w, Role.OPERATOR, z, x, y)
    assert new_id not in ids(before, "buildings") and new_id in ids(after, "buildings")
    feature = next(f for f in after["buildings"]["features"] if f["id"] == new_id)
    assert feature["properties"]["floors"] == 9


@pytest.mark.parametrize(("path", "field"), [
    ("/api/v1/tiles/23/0/0.mvt", "z must be"),
    ("/api/v1/tiles/3/8/0.mvt", "x must be"),
    ("/api/v1/tiles/3/0/-1.mvt", "y must be"),
])
def test_bad_tile_address_is_a_422_naming_the_field(map_world: World, path: str,
                                                    field: str) -> None:
    r = map_world.client.get(path, headers=map_world.headers(Role.OPERATOR))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.json()["detail"]


def test_tiles_need_a_reader(map_world: World) -> None:
    assert map_world.client.get("/api/v1/tiles/10/832/412.mvt").status_code == 401
    for role in (Role.COURT_LIAISON, Role.SYS_ADMIN, Role.SEC_ADMIN, Role.AUDIT_ADMIN):
        r = map_world.client.get("/api/v1/tiles/10/832/412.mvt", headers=map_world.headers(role))
        assert r.status_code == 403, role


def test_the_naive_peer_reads_the_same_buildings(map_world: World,
                                                 dense: tuple[float, float]) -> None:
    # the benchmark's peer must build the same tiles from the same rows under the same scope
    with map_world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        county = resolve_scope(session, [get_node(session, "420682000000").id])
        grid = resolve_scope(session, [get_node(session, GRID_A).id])
    for scope, role in ((county, Role.OPERATOR), (grid, Role.GRID_WORKER)):
        who = Principal(map_world.user_ids[role], f"u_{role.value}", role, 0, scope)
        for z in (14, 16):
            zz, x, y = tile_of(*dense, z)
            w, s, e, n = tiles.tile_bounds(zz, x, y, tiles.BUFFER)
            with scoped_session(map_world.platform, who) as session:
                fast = set(tiles.buildings_by_code_ranges(session, w, s, e, n))
                naive = set(tiles.buildings_by_lonlat_bbox(session, w, s, e, n))
                small = tile_cache(map_world.platform).small(
                    session, tile_cache(map_world.platform).version(session))
                roads = tile_cache(map_world.platform).visible_roads(
                    session, tile_cache(map_world.platform).version(session), scope)
                a = tiles.build_tile(session, small, roads, scope, zz, x, y)
                b = tiles.build_tile(session, small, roads, scope, zz, x, y,
                                     buildings=tiles.buildings_by_lonlat_bbox)
            assert fast == naive and a == b
            assert _nodes(map_world, naive) <= scope.node_ids
            if role is Role.OPERATOR:
                assert fast


def _nodes(world: World, ids: set[int]) -> set[int]:
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        return set(session.scalars(select(Building.node_id).where(Building.id.in_(ids))))


def test_sqlite_searches_the_code_index_for_tile_buildings(map_world: World,
                                                           dense: tuple[float, float]) -> None:
    """The county-wide scope (hundreds of nodes) must not turn SQLite to the node_id index,
    which would read every building of the county for each tile."""
    engine = map_world.platform.db.engine
    if engine.dialect.name != "sqlite":
        return  # PostgreSQL plans the ranges as a BitmapOr; nothing to pin here
    plans: list[str] = []

    def capture(conn: object, cursor: Any, statement: str, params: Any, *_: object) -> None:
        if statement.startswith("SELECT buildings.id") and "code >=" in statement:
            rows = cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, params)
            plans.append(" | ".join(str(r[3]) for r in rows))

    tile_cache(map_world.platform).clear()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        get_tile(map_world, Role.OPERATOR, *tile_of(*dense, 15))
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert plans
    for plan in plans:
        assert "ix_buildings_code" in plan and "ix_buildings_node_id" not in plan, plan
