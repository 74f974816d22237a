"""Spatial queries on BeiDou integer code ranges (no PostGIS): the same SQL on SQLite and
PostgreSQL, answered by the ordinary B-tree indexes on ``code``.

Every query has two steps:

1. a **range prefilter** ``code >= lo AND code < hi OR …`` over a cover of the search area at a
   level chosen so that the cover has few ranges (≤ ``MAX_RANGES``): a coarse cover selects a
   few extra rows, which the exact lon/lat (or bbox-column) filter in the same SQL drops;
2. an **exact test** in Python with shapely on the few candidate footprints, where the answer
   depends on the footprint rather than the building's point.

Every query runs through the caller's ORM session, so the jurisdiction scope (``node_id IN
scope``) is added by ``yitu.access.scope`` and cannot be forgotten here.

Semantics (the tests compare each with brute force over all rows):

* ``buildings_in_bbox`` / ``buildings_in_polygon``: footprint intersects the closed area;
* ``buildings_in_cell``: the building's point (``code``) lies in the cell;
* ``building_containing``: footprint covers the point (boundary included); the smallest wins;
* ``nearest_building``: the smallest planar distance (local equirectangular metres) from the
  point to a footprint (0 inside); ties broken by id;
* ``people_in_cell``: people with a current resident relation to a house in the cell.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point, box, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, and_, event, false, func, or_, select
from sqlalchemy.orm import Session

from yitu.grid import cover
from yitu.grid.constants import SIZE_LAT, SIZE_LON, UNITS_PER_DEGREE
from yitu.grid.errors import GridError
from yitu.grid.intcode import int_descendant_range, to_int
from yitu.people.models import Person
from yitu.registry.models import RESIDENT_RELATIONS, Building, PersonHouse

#: Upper bound on the ranges of one prefilter: past this the cover goes one level coarser.
MAX_RANGES = 64
#: Pad areas by this (degrees, ≈ 1 cm) so points exactly on the far edges of a closed box are
#: covered: a cell is open on its far side, and the cover counts only cells sharing area.
EDGE_PAD = 1e-7
#: Metres per degree of latitude in the local equirectangular frame used for distances.
M_PER_DEG = 111_320.0
#: The search box of ``nearest_building`` starts at this half-size and doubles.
NEAREST_START_M = 50.0
NEAREST_LIMIT_M = 200_000.0

Ranges = np.ndarray  # (n, 2) int64 [lo, hi)


def _cell_deg(level: int) -> tuple[float, float]:
    return SIZE_LON[level] / UNITS_PER_DEGREE, SIZE_LAT[level] / UNITS_PER_DEGREE


def _start_level(width: float, height: float, max_cells: int = MAX_RANGES) -> int:
    """The finest level whose cover of a width × height box has at most ``max_cells`` cells."""
    for level in range(10, 0, -1):
        dlon, dlat = _cell_deg(level)
        if (width / dlon + 2) * (height / dlat + 2) <= max_cells:
            return level
    return 1


def _ranges_for_geometry(geom: BaseGeometry, max_ranges: int) -> Ranges:
    w, s, e, n = geom.bounds
    level = _start_level(e - w, n - s, max_ranges)
    while True:
        r = cover.cover_ranges(geom, level)
        if len(r) <= max_ranges or level == 1:
            return r
        level -= 1


def ranges_for_bbox(
    west: float, south: float, east: float, north: float, max_ranges: int = MAX_RANGES
) -> Ranges:
    """Ranges of level-10 codes covering the closed box (a superset: filter exactly in SQL)."""
    if not (west <= east and south <= north):
        raise GridError(f"bbox ({west}, {south}, {east}, {north}) has west > east or south > north")
    return _bbox_ranges_cached(west, south, east, north, max_ranges)


@lru_cache(maxsize=4096)
def _bbox_ranges_cached(w: float, s: float, e: float, n: float, max_ranges: int) -> Ranges:
    geom = box(w - EDGE_PAD, s - EDGE_PAD, e + EDGE_PAD, n + EDGE_PAD)
    r = _ranges_for_geometry(geom, max_ranges)
    r.setflags(write=False)
    return r


def ranges_for_polygon(geom: BaseGeometry | dict[str, Any], max_ranges: int = MAX_RANGES) -> Ranges:
    """Ranges covering a (multi)polygon and its boundary (a superset)."""
    g = shape(geom) if isinstance(geom, dict) else geom
    return _ranges_for_geometry(g.buffer(EDGE_PAD, join_style="mitre"), max_ranges)


def ranges_for_cell(code: str | int) -> Ranges:
    """The one range of level-10 codes inside a cell of any level (string or integer code)."""
    v = to_int(code) if isinstance(code, str) else int(code)
    lo, hi = int_descendant_range(v)
    return np.array([[lo, hi]], dtype=np.int64)


def code_range_clause(column: Any, ranges: Ranges | Sequence[Sequence[int]]) -> ColumnElement[bool]:
    """``(col >= lo AND col < hi) OR …``: SQLite answers with a MULTI-INDEX OR of index range
    searches, PostgreSQL with a BitmapOr of index scans (checked in tests/registry)."""
    pairs = [(int(lo), int(hi)) for lo, hi in ranges]
    if not pairs:
        return false()
    # Bound parameters: one cached compiled statement per number of ranges.
    clauses = [and_(column >= lo, column < hi) for lo, hi in pairs]
    return clauses[0] if len(clauses) == 1 else or_(*clauses)


# --- the largest building extent (bounds the distance from a footprint point to its code) ---


@dataclass(frozen=True)
class Extent:
    dlon: float  # max(east - west) over all buildings, degrees
    dlat: float


_extent_lock = threading.Lock()
_extent_cache: dict[str, tuple[float, Extent]] = {}
EXTENT_TTL_SECONDS = 30.0


def invalidate_extent() -> None:
    with _extent_lock:
        _extent_cache.clear()


@event.listens_for(Session, "after_flush")
def _building_written(session: Session, _ctx: Any) -> None:
    # A new or changed footprint may be the new largest: recompute on the next query. Bulk
    # loads outside the ORM (demo generator) are covered by the TTL and ``invalidate_extent``.
    if any(isinstance(o, Building) for o in (*session.new, *session.dirty)):
        invalidate_extent()


def building_extent(session: Session) -> Extent:
    """The largest footprint extent, over all buildings (not only the scope's: it is a bound, not
    data). Cached per database for ``EXTENT_TTL_SECONDS``."""
    key = str(session.get_bind().url)
    now = time.monotonic()
    with _extent_lock:
        hit = _extent_cache.get(key)
    if hit and now - hit[0] < EXTENT_TTL_SECONDS:
        return hit[1]
    row = session.execute(
        select(func.max(Building.east - Building.west), func.max(Building.north - Building.south)),
        execution_options={"yitu_trusted": True},
    ).one()
    extent = Extent(float(row[0] or 0.0), float(row[1] or 0.0))
    with _extent_lock:
        _extent_cache[key] = (now, extent)
    return extent


# --- footprints ---

_footprints: dict[tuple[int, int], BaseGeometry] = {}


def footprint(b: Building) -> BaseGeometry:
    """The shapely footprint, parsed once per (id, text hash) in this process."""
    key = (b.id, hash(b.footprint))
    geom = _footprints.get(key)
    if geom is None:
        if len(_footprints) > 200_000:
            _footprints.clear()
        geom = _footprints[key] = shape(json.loads(b.footprint))
        shapely.prepare(geom)
    return geom


# --- building queries ---


def buildings_in_bbox(
    session: Session,
    west: float,
    south: float,
    east: float,
    north: float,
    limit: int | None = None,
) -> list[Building]:
    """Buildings whose footprint intersects the closed box, by id. ``limit`` caps the SQL rows
    (callers pass max + 1 to detect an oversized answer)."""
    ext = building_extent(session)
    r = ranges_for_bbox(west - ext.dlon, south - ext.dlat, east + ext.dlon, north + ext.dlat)
    stmt = (
        select(Building)
        .where(
            code_range_clause(Building.code, r),
            Building.west <= east,
            Building.east >= west,
            Building.south <= north,
            Building.north >= south,
        )
    )
    q = box(west, south, east, north)
    out = []
    # Sorted here, not by ORDER BY id: SQLite would rather scan the table in rowid order than
    # sort a few rows from the code index.
    for b in sorted(session.scalars(stmt), key=lambda b: b.id):
        inside = b.west >= west and b.east <= east and b.south >= south and b.north <= north
        if inside or footprint(b).intersects(q):
            out.append(b)
            if limit is not None and len(out) >= limit:
                break
    return out


def buildings_in_polygon(session: Session, geom: BaseGeometry | dict[str, Any]) -> list[Building]:
    """Buildings whose footprint intersects the (multi)polygon (boundary included), by id."""
    g = shape(geom) if isinstance(geom, dict) else geom
    ext = building_extent(session)
    w, s, e, n = g.bounds
    search = g.buffer(max(ext.dlon, ext.dlat) + EDGE_PAD, join_style="mitre")
    r = ranges_for_polygon(search)
    stmt = (
        select(Building)
        .where(
            code_range_clause(Building.code, r),
            Building.west <= e,
            Building.east >= w,
            Building.south <= n,
            Building.north >= s,
        )
    )
    shapely.prepare(g)
    rows = sorted(session.scalars(stmt), key=lambda b: b.id)
    return [b for b in rows if g.intersects(footprint(b))]


def buildings_in_cell(session: Session, code: str | int) -> list[Building]:
    """Buildings whose point (``code``) lies in the cell."""
    stmt = select(Building).where(code_range_clause(Building.code, ranges_for_cell(code)))
    return sorted(session.scalars(stmt), key=lambda b: b.id)


def _candidates_near(session: Session, lon: float, lat: float, dlon: float, dlat: float) -> Any:
    """Buildings whose bbox meets the box lon ± dlon, lat ± dlat (their point is then within
    the box grown by the largest extent)."""
    ext = building_extent(session)
    w, e = lon - dlon, lon + dlon
    s, n = lat - dlat, lat + dlat
    r = ranges_for_bbox(w - ext.dlon, s - ext.dlat, e + ext.dlon, n + ext.dlat)
    stmt = select(Building).where(
        code_range_clause(Building.code, r),
        Building.west <= e,
        Building.east >= w,
        Building.south <= n,
        Building.north >= s,
    )
    return session.scalars(stmt)


def building_containing(session: Session, lon: float, lat: float) -> Building | None:
    """The building whose footprint covers the point (edges included); if footprints overlap,
    the smallest footprint, then the lowest id."""
    p = Point(lon, lat)
    hits = [b for b in _candidates_near(session, lon, lat, 0.0, 0.0) if footprint(b).covers(p)]
    if not hits:
        return None
    return min(hits, key=lambda b: (footprint(b).area, b.id))


def _metric(lon0: float, lat0: float) -> float:
    return math.cos(math.radians(lat0))


def _distance_m(b: Building, lon: float, lat: float, kx: float) -> float:
    """Planar distance in a local equirectangular frame centred on the query point."""
    geom = footprint(b)
    local = shapely.transform(geom, lambda xy: (xy - (lon, lat)) * (kx * M_PER_DEG, M_PER_DEG))
    return float(local.distance(Point(0.0, 0.0)))


def nearest_building(
    session: Session, lon: float, lat: float, limit_m: float = NEAREST_LIMIT_M
) -> tuple[Building, float] | None:
    """The building with the nearest footprint and its distance in metres (0 inside), or None
    within ``limit_m``. Exact: after the first hit at distance d, every building within d is
    fetched (its bbox meets the box of half-size d) and the minimum taken."""
    kx = _metric(lon, lat)
    radius = NEAREST_START_M
    while True:
        dlat = radius / M_PER_DEG
        dlon = radius / (M_PER_DEG * kx)
        found = [(_distance_m(b, lon, lat, kx), b.id, b) for b in _candidates_near(
            session, lon, lat, dlon, dlat)]
        if found:
            best = min(found, key=lambda t: (t[0], t[1]))
            if best[0] <= radius:
                # every building within best[0] has its bbox inside this box: the answer is exact
                return best[2], best[0]
            # the nearest seen may be beaten by one outside the box: search the box of its radius
            radius = best[0]
            continue
        if radius >= limit_m:
            return None
        radius = min(radius * 2, limit_m)


# --- people ---


def _current(today: date) -> ColumnElement[bool]:
    return and_(
        PersonHouse.valid_from <= today,
        or_(PersonHouse.valid_to.is_(None), PersonHouse.valid_to > today),
    )


def people_in_cell(session: Session, code: str | int, today: date) -> list[Person]:
    """People with a current resident relation (householder, family member, tenant, lodger) to a
    house whose code lies in the cell; each person once, by id."""
    sub = select(PersonHouse.person_id).where(
        code_range_clause(PersonHouse.code, ranges_for_cell(code)),
        PersonHouse.relation.in_([r.value for r in RESIDENT_RELATIONS]),
        _current(today),
    )
    return sorted(session.scalars(select(Person).where(Person.id.in_(sub))), key=lambda p: p.id)


def count_people_in_cell(session: Session, code: str | int, today: date) -> dict[str, int]:
    """Counts by registration type of ``people_in_cell``."""
    sub = select(PersonHouse.person_id).where(
        code_range_clause(PersonHouse.code, ranges_for_cell(code)),
        PersonHouse.relation.in_([r.value for r in RESIDENT_RELATIONS]),
        _current(today),
    )
    stmt = (
        select(Person.registration_type, func.count())
        .where(Person.id.in_(sub))
        .group_by(Person.registration_type)
    )
    return {str(k): int(v) for k, v in session.execute(stmt)}
