"""Mapbox Vector Tiles (MVT) of the county for MapLibre GL JS, built from BeiDou code ranges.

A tile ``z/x/y`` (Web Mercator, XYZ scheme) is turned into its lon/lat box, the box (padded by
the tile buffer and the largest building extent) into ranges of level-10 integer codes
(``yitu.registry.spatial.ranges_for_bbox``), and the ranges into one indexed SQL statement on
``buildings.code``. Boundaries, roads and water are few (hundreds of rows) and are held in
memory per data version, queried with a shapely STRtree.

Layers (``source-layer`` names in the style):

* ``towns`` / ``villages`` / ``grids`` — polygons of the jurisdiction nodes (code, name, level);
* ``roads`` — lines (name, kind); ``water`` — the Han River and other water surfaces;
* ``buildings`` — footprints with ``floors``, ``height_m``, ``use``, ``name`` (for the 3D
  fill-extrusion); the feature id is the building id (drill-down goes to the registry API);
* ``cells`` — BeiDou grid cells at the level that fits the zoom (``code``, ``level``).

Tiles carry no personal data (no person, room, phone or case reporter ever enters a tile), but
what they show is jurisdiction-scoped exactly like the registry API: buildings and roads through
the ORM session's scope listener, boundaries through the same visibility test as
``/registry/geojson/grids``. The cache is keyed by the scope's node set, so users never share a
tile unless they see the same nodes.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mapbox_vector_tile
import numpy as np
import shapely
from mapbox_vector_tile.encoder import on_invalid_geometry_ignore
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    event,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from yitu.access.models import JurisdictionNode, Level
from yitu.access.scope import (
    SCOPE_KEY,
    SCOPE_PARAM,
    UNRESTRICTED,
    Scope,
    scope_params,
)
from yitu.core.errors import InvalidInputError
from yitu.grid import cover, vector
from yitu.registry import spatial
from yitu.registry.models import Building, MapFeature, NodeBoundary, Road

EXTENT = 4096
#: Geometry is clipped this far (tile units) outside the tile so lines and fills join seamlessly.
BUFFER = 64
MAX_ZOOM = 22
#: Buildings appear from this zoom on (a z13 tile over the urban core would hold ~10k of them).
BUILDINGS_MIN_ZOOM = 14
VILLAGES_MIN_ZOOM = 10
GRIDS_MIN_ZOOM = 12
ROADS_MIN_ZOOM = 9
CELLS_MIN_ZOOM = 8
#: Skip the cells layer when a tile would hold more cells than this (never at the chosen levels).
MAX_CELLS = 4096


def cell_level_for_zoom(z: int) -> int:
    """The BeiDou level whose cells are at least ~50 px wide at zoom ``z`` (at 32°N):
    L3 15′×10′ (~24 km), L4 1′ (~1.6 km), L5 4″ (~105 m), L6 2″ (~52 m), L7 ¼″ (~6.6 m)."""
    if z < 11:
        return 3
    if z < 15:
        return 4
    if z < 17:
        return 5
    if z < 20:
        return 6
    return 7


def check_tile(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInputError(f"z must be between 0 and {MAX_ZOOM}")
    if not (0 <= x < 2**z):
        raise InvalidInputError(f"x must be between 0 and 2^z - 1 ({2**z - 1})")
    if not (0 <= y < 2**z):
        raise InvalidInputError(f"y must be between 0 and 2^z - 1 ({2**z - 1})")


def _lon(x: float, z: int) -> float:
    return x / 2**z * 360.0 - 180.0


def _lat(y: float, z: int) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / 2**z))))


def tile_bounds(z: int, x: int, y: int, buffer: float = 0.0) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees of the tile grown by ``buffer`` tile units."""
    b = buffer / EXTENT
    w, e = _lon(x - b, z), _lon(x + 1 + b, z)
    n, s = _lat(max(y - b, 0.0), z), _lat(min(y + 1 + b, 2.0**z), z)
    return max(w, -180.0), s, min(e, 180.0), n


def _projector(z: int, x: int, y: int) -> Callable[[np.ndarray], np.ndarray]:
    """lon/lat (n, 2) → tile units, y down (Web Mercator: exact, not a linear lat stretch)."""
    scale = 2**z * EXTENT

    def project(xy: np.ndarray) -> np.ndarray:
        out = np.empty_like(xy)
        out[:, 0] = (xy[:, 0] + 180.0) / 360.0 * scale - x * EXTENT
        lat = np.radians(np.clip(xy[:, 1], -85.05112878, 85.05112878))
        out[:, 1] = (1 - np.log(np.tan(lat) + 1 / np.cos(lat)) / math.pi) / 2 * scale - y * EXTENT
        return out

    return project


def _to_tile(geoms: np.ndarray, z: int, x: int, y: int) -> np.ndarray:
    """Project and clip an array of lon/lat geometries; empty results are None."""
    if geoms.size == 0:
        return geoms
    projected = shapely.transform(geoms, _projector(z, x, y))
    clipped = shapely.clip_by_rect(projected, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
    # the MVT winding order (exterior rings of positive area in y-down tile units) for the
    # whole array at once, so the encoder need not check each polygon in Python; the encoder
    # rounds to integer units
    clipped = shapely.orient_polygons(clipped, exterior_cw=False)
    clipped[shapely.is_empty(clipped)] = None
    return clipped


# --- the small layers: held in memory per data version --------------------------------------


@dataclass
class SmallLayers:
    """Boundaries, roads and water as shapely arrays with an STRtree each."""

    boundary_geoms: np.ndarray
    boundary_props: list[dict[str, Any]]
    boundary_nodes: np.ndarray  # jurisdiction node id per boundary
    boundary_level: np.ndarray  # Level value per boundary
    boundary_tree: shapely.STRtree
    road_geoms: np.ndarray
    road_props: list[dict[str, Any]]
    road_ids: np.ndarray
    road_tree: shapely.STRtree
    water_geoms: np.ndarray
    water_props: list[dict[str, Any]]
    water_tree: shapely.STRtree
    bounds: tuple[float, float, float, float] | None  # of all boundaries (the county)
    loaded_at: float = field(default_factory=time.monotonic)
    # building id -> (footprint, tile properties), filled as tiles need them; it lives as long
    # as this data version (a new version, or MAX_TILE_AGE, starts a fresh one)
    buildings: dict[int, tuple[BaseGeometry, dict[str, Any]]] = field(default_factory=dict)
    buildings_lock: threading.Lock = field(default_factory=threading.Lock)


def _geoms(texts: list[str]) -> np.ndarray:
    return np.array([shape(json.loads(t)) for t in texts], dtype=object)


def load_small_layers(session: Session) -> SmallLayers:
    """Every boundary, road and water feature (trusted read: visibility is decided per tile)."""
    trusted = {"yitu_trusted": True}
    b_rows = session.execute(
        select(NodeBoundary.node_id, NodeBoundary.geometry, JurisdictionNode.code,
               JurisdictionNode.name, JurisdictionNode.level)
        .join(JurisdictionNode, JurisdictionNode.id == NodeBoundary.node_id)
        .order_by(NodeBoundary.node_id),
        execution_options=trusted,
    ).all()
    r_rows = session.execute(
        select(Road.id, Road.geometry, Road.name, Road.kind).order_by(Road.id),
        execution_options=trusted,
    ).all()
    w_rows = session.execute(
        select(MapFeature.geometry, MapFeature.name, MapFeature.kind, MapFeature.layer)
        .order_by(MapFeature.id),
        execution_options=trusted,
    ).all()
    b_geoms = _geoms([r.geometry for r in b_rows])
    r_geoms = _geoms([r.geometry for r in r_rows])
    w_geoms = _geoms([r.geometry for r in w_rows])
    bounds = None
    if b_geoms.size:
        tb = shapely.total_bounds(b_geoms)
        bounds = (float(tb[0]), float(tb[1]), float(tb[2]), float(tb[3]))
    return SmallLayers(
        boundary_geoms=b_geoms,
        boundary_props=[{"code": r.code, "name": r.name, "level": r.level} for r in b_rows],
        boundary_nodes=np.array([r.node_id for r in b_rows], dtype=np.int64),
        boundary_level=np.array([r.level for r in b_rows], dtype=object),
        boundary_tree=shapely.STRtree(b_geoms),
        road_geoms=r_geoms,
        road_props=[{"id": r.id, "name": r.name, "kind": r.kind} for r in r_rows],
        road_ids=np.array([r.id for r in r_rows], dtype=np.int64),
        road_tree=shapely.STRtree(r_geoms),
        water_geoms=w_geoms,
        water_props=[{"name": r.name, "kind": r.kind, "layer": r.layer} for r in w_rows],
        water_tree=shapely.STRtree(w_geoms),
        bounds=bounds,
    )


# --- data version: what invalidates cached tiles --------------------------------------------

_local_changes = 0
_local_lock = threading.Lock()
_MAP_MODELS = (Building, Road, NodeBoundary, MapFeature, JurisdictionNode)


@event.listens_for(Session, "after_flush")
def _map_data_written(session: Session, _ctx: Any) -> None:
    # A change made in this process shows in the next tile at once; changes by another process
    # (the CLI, the demo loader) are caught by the fingerprint, read at most every VERSION_TTL.
    global _local_changes
    if any(isinstance(o, _MAP_MODELS) for o in (*session.new, *session.dirty, *session.deleted)):
        with _local_lock:
            _local_changes += 1


def fingerprint(session: Session) -> str:
    """Row counts and highest ids of the map tables: changes when rows are added or removed
    (an in-place edit by another process shows after ``MAX_TILE_AGE`` at the latest)."""
    parts = []
    for model in (Building, Road, NodeBoundary, MapFeature):
        key = model.node_id if model is NodeBoundary else model.id
        n, top = session.execute(
            select(func.count(), func.max(key)), execution_options={"yitu_trusted": True}
        ).one()
        parts.append(f"{n}.{top or 0}")
    return "-".join(parts)


# --- the tile cache -------------------------------------------------------------------------

#: The fingerprint is read at most this often (seconds).
VERSION_TTL = 10.0
#: A cached tile is rebuilt after this many seconds whatever the fingerprint says.
MAX_TILE_AGE = 300.0


@dataclass
class Tile:
    data: bytes
    etag: str
    built_at: float


@dataclass
class TileCache:
    """In-process LRU of encoded tiles keyed by (scope nodes, data version, z, x, y), bounded in
    bytes; plus the small layers and the visible road ids per (version, scope)."""

    max_bytes: int = 64 * 1024 * 1024
    tiles: OrderedDict[tuple[Any, ...], Tile] = field(default_factory=OrderedDict)
    size: int = 0
    hits: int = 0
    misses: int = 0
    _version: tuple[float, str] | None = None
    _small: tuple[str, SmallLayers] | None = None
    _roads: dict[tuple[str, frozenset[int]], np.ndarray] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self._lock:
            self.tiles.clear()
            self.size = 0
            self._version = None
            self._small = None
            self._roads.clear()

    def version(self, session: Session) -> str:
        now = time.monotonic()
        with self._lock:
            cached = self._version
        if cached is None or now - cached[0] > VERSION_TTL:
            cached = (now, fingerprint(session))
            with self._lock:
                self._version = cached
        return f"{cached[1]}+{_local_changes}"

    def small(self, session: Session, version: str) -> SmallLayers:
        with self._lock:
            if (self._small and self._small[0] == version
                    and time.monotonic() - self._small[1].loaded_at < MAX_TILE_AGE):
                return self._small[1]
        layers = load_small_layers(session)
        with self._lock:
            self._small = (version, layers)
            self._roads.clear()
        return layers

    def visible_roads(self, session: Session, version: str, scope: Scope) -> np.ndarray:
        """Ids of the roads the session's scope lets it see (decided by the scope listener)."""
        key = (version, scope.node_ids)
        with self._lock:
            hit = self._roads.get(key)
        if hit is None:
            hit = np.array(sorted(session.scalars(select(Road.id))), dtype=np.int64)
            with self._lock:
                if len(self._roads) > 256:
                    self._roads.clear()
                self._roads[key] = hit
        return hit

    def get(self, key: tuple[Any, ...]) -> Tile | None:
        with self._lock:
            tile = self.tiles.get(key)
            if tile is None or time.monotonic() - tile.built_at > MAX_TILE_AGE:
                self.misses += 1
                return None
            self.tiles.move_to_end(key)
            self.hits += 1
            return tile

    def put(self, key: tuple[Any, ...], tile: Tile) -> None:
        with self._lock:
            old = self.tiles.pop(key, None)
            if old is not None:
                self.size -= len(old.data)
            self.tiles[key] = tile
            self.size += len(tile.data)
            while self.size > self.max_bytes and self.tiles:
                _, dropped = self.tiles.popitem(last=False)
                self.size -= len(dropped.data)


# --- building a tile ------------------------------------------------------------------------




BuildingQuery = Callable[[Session, float, float, float, float], list[int]]
_ID_STATEMENTS: dict[tuple[Any, ...], Select[Any]] = {}


def _id_statement(dialect: str, n_ranges: int, restricted: bool) -> Select[Any]:
    """``SELECT id FROM buildings WHERE <n code ranges> AND <bbox> AND <scope>``: every column
    it reads is in the covering index ``(code, west, east, south, north, node_id)``, so it is an
    index-only range scan. ``n_ranges = 0``: the naive peer, no code ranges. One compiled
    statement per shape; the scope is one bound parameter (as in ``registry.spatial``)."""
    key = (dialect, n_ranges, restricted)
    stmt = _ID_STATEMENTS.get(key)
    if stmt is None:
        b = Building.__table__.c
        conds: list[ColumnElement[bool]] = []
        if n_ranges:
            parts = [and_(b.code >= bindparam(f"lo_{i}"), b.code < bindparam(f"hi_{i}"))
                     for i in range(n_ranges)]
            conds.append(parts[0] if n_ranges == 1 else or_(*parts))
        conds += [b.west <= bindparam("e"), b.east >= bindparam("w"),
                  b.south <= bindparam("n"), b.north >= bindparam("s")]
        if restricted:
            if dialect == "postgresql":  # one array parameter (psycopg caches the statement)
                conds.append(b.node_id == any_(bindparam(SCOPE_PARAM, type_=ARRAY(Integer))))
            else:
                # ``node_id + 0``: keeps SQLite off ix_buildings_node_id, which it prefers for
                # a long IN list (a county scope is 752 nodes) and which then reads every
                # building of the county; the code ranges must drive the search
                conds.append((b.node_id + 0).in_(bindparam(SCOPE_PARAM, expanding=True)))
        stmt = _ID_STATEMENTS[key] = select(b.id).where(*conds)
    return stmt


def _building_ids(session: Session, w: float, s: float, e: float, n: float,
                  ranges: np.ndarray | None) -> list[int]:
    scope = session.info.get(SCOPE_KEY)
    restricted = scope is not UNRESTRICTED
    conn = session.connection()
    params: dict[str, Any] = {"w": w, "s": s, "e": e, "n": n}
    if ranges is not None:
        for i, (lo, hi) in enumerate(ranges.tolist()):
            params[f"lo_{i}"], params[f"hi_{i}"] = lo, hi
    if restricted:
        params.update(scope_params(scope))
    n_ranges = 0 if ranges is None else len(ranges)
    return list(conn.execute(_id_statement(conn.dialect.name, n_ranges, restricted), params)
                .scalars())


def buildings_by_code_ranges(
    session: Session, west: float, south: float, east: float, north: float
) -> list[int]:
    """Ids of the buildings whose bbox meets the box, in the session's scope: the box grown by
    the largest footprint extent → ranges of level-10 codes (``registry.spatial``) → one
    index-only range scan."""
    ext = spatial.building_extent(session)
    ranges = spatial.ranges_for_bbox(west - ext.dlon, south - ext.dlat, east + ext.dlon,
                                     north + ext.dlat)
    return _building_ids(session, west, south, east, north, ranges)


def buildings_by_lonlat_bbox(
    session: Session, west: float, south: float, east: float, north: float
) -> list[int]:
    """The naive peer (benchmark only): the same ids from the same scope by a plain bbox test
    on the building columns, no code ranges (what one writes without the grid index)."""
    return _building_ids(session, west, south, east, north, None)


def _building_shapes(
    session: Session, small: SmallLayers, ids: list[int]
) -> list[tuple[BaseGeometry, dict[str, Any]]]:
    """Footprints and tile properties of buildings (already scope-checked ids), from the
    per-version cache; the missing ones are read by primary key."""
    with small.buildings_lock:
        missing = [i for i in ids if i not in small.buildings]
    if missing:
        b = Building.__table__.c
        conn = session.connection()
        for start in range(0, len(missing), 500):
            chunk = missing[start:start + 500]
            rows = conn.execute(select(b.id, b.footprint, b.floors, b.height_m, b.use)
                                .where(b.id.in_(chunk)))
            got = {r.id: (shape(json.loads(r.footprint)),
                          {"id": r.id, "floors": r.floors,
                           "height_m": round(float(r.height_m), 1), "use": r.use})
                   for r in rows}
            with small.buildings_lock:
                small.buildings.update(got)
    with small.buildings_lock:
        return [small.buildings[i] for i in ids if i in small.buildings]


def _features(
    geoms: np.ndarray, props: list[dict[str, Any]], ids: list[int] | None = None
) -> list[dict[str, Any]]:
    out = []
    for i, g in enumerate(geoms):
        if g is None:
            continue
        f: dict[str, Any] = {"geometry": g, "properties": props[i]}
        if ids is not None:
            f["id"] = ids[i]
        out.append(f)
    return out


def _boundary_layers(
    small: SmallLayers, scope: Scope, z: int, x: int, y: int, query: BaseGeometry
) -> list[dict[str, Any]]:
    idx = small.boundary_tree.query(query)
    idx = np.sort(idx)
    visible = np.array([scope.contains(int(n)) for n in small.boundary_nodes[idx]], dtype=bool)
    idx = idx[visible] if idx.size else idx
    layers = []
    for name, level, minzoom in (
        ("towns", Level.TOWN.value, 0),
        ("villages", Level.VILLAGE.value, VILLAGES_MIN_ZOOM),
        ("grids", Level.GRID.value, GRIDS_MIN_ZOOM),
    ):
        if z < minzoom:
            continue
        sel = idx[small.boundary_level[idx] == level] if idx.size else idx
        geoms = _to_tile(small.boundary_geoms[sel], z, x, y)
        props = [small.boundary_props[i] for i in sel]
        layers.append({"name": name, "features": _features(geoms, props)})
    return layers


def _cells_layer(z: int, x: int, y: int) -> dict[str, Any] | None:
    if z < CELLS_MIN_ZOOM:
        return None
    level = cell_level_for_zoom(z)
    w, s, e, n = tile_bounds(z, x, y)
    # shrink by a hair so cells that only touch the tile edge are left to the neighbour tile
    eps = 1e-9
    codes = cover.cover_cells(box(w + eps, s + eps, e - eps, n - eps), level,
                              max_cells=MAX_CELLS + 1)
    if codes.size == 0 or codes.size > MAX_CELLS:
        return None
    bb = vector.cells_bbox(vector.decode_int(codes))
    polys = shapely.box(bb[:, 0], bb[:, 1], bb[:, 2], bb[:, 3])
    names = np.char.decode(vector.int_to_str(codes), "ascii").tolist()
    geoms = _to_tile(polys, z, x, y)
    props = [{"code": c, "level": level} for c in names]
    return {"name": "cells", "features": _features(geoms, props)}


def build_tile(
    session: Session,
    small: SmallLayers,
    road_ids: np.ndarray,
    scope: Scope,
    z: int,
    x: int,
    y: int,
    buildings: BuildingQuery = buildings_by_code_ranges,
) -> bytes:
    """Encode one tile. ``session`` must carry the caller's scope (buildings are read through
    it); ``road_ids`` are the roads that scope may see."""
    w, s, e, n = tile_bounds(z, x, y, BUFFER)
    query = box(w, s, e, n)
    layers = []
    if small.water_geoms.size:
        idx = np.sort(small.water_tree.query(query))
        geoms = _to_tile(small.water_geoms[idx], z, x, y)
        layers.append({"name": "water",
                       "features": _features(geoms, [small.water_props[i] for i in idx])})
    layers.extend(_boundary_layers(small, scope, z, x, y, query))
    if z >= ROADS_MIN_ZOOM and small.road_geoms.size:
        idx = np.sort(small.road_tree.query(query))
        idx = idx[np.isin(small.road_ids[idx], road_ids)] if idx.size else idx
        geoms = _to_tile(small.road_geoms[idx], z, x, y)
        layers.append({"name": "roads",
                       "features": _features(geoms, [small.road_props[i] for i in idx])})
    if z >= BUILDINGS_MIN_ZOOM:
        found = _building_shapes(session, small, sorted(buildings(session, w, s, e, n)))
        geoms = _to_tile(np.array([g for g, _ in found], dtype=object), z, x, y)
        props = [p for _, p in found]
        layers.append({"name": "buildings",
                       "features": _features(geoms, props, [p["id"] for p in props])})
    cells = _cells_layer(z, x, y)
    if cells:
        layers.append(cells)
    layers = [layer for layer in layers if layer["features"]]
    if not layers:
        return b""
    return bytes(mapbox_vector_tile.encode(
        layers,
        default_options={"extents": EXTENT, "y_coord_down": True, "check_winding_order": False,
                         "on_invalid_geometry": on_invalid_geometry_ignore},
    ))
