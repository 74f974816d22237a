"""Spatial queries on BeiDou integer code ranges (no PostGIS): the same SQL on SQLite and
PostgreSQL, answered by ordinary B-tree indexes on ``code``.

Every query has two steps:

1. a **range prefilter** ``code >= lo AND code < hi OR …`` over a cover of the search area: for
   a box (viewports, point lookups) the cells of one level are enumerated directly (the integer
   code is a sum of a longitude part and a latitude part, so a box of cells is two small encodes
   and an outer sum), at the finest level with at most ``MAX_CELLS`` cells, and merged into
   ranges; polygons use the general ``yitu.grid.cover``. The exact bbox tests run in the same
   SQL on the covering index's columns (migration 0003), so only hits touch the table;
2. an **exact test** in Python with shapely on the few candidate footprints, where the answer
   depends on the footprint rather than the building's point.

The statements are Core selects of columns (no ORM entities), compiled once per shape (kind,
number of ranges, scoped or not) and executed on the session's connection. The jurisdiction
scope is part of every statement: ``scope_criterion`` (on PostgreSQL its one-array-parameter
form, see ``_scope_any``) with the session's scope bound by ``scope_params`` (an unknown
scope binds an empty list and matches nothing); only a session opened UNRESTRICTED (trusted
CLI) gets the statement without it.

Semantics (the tests compare each with brute force over all rows):

* ``buildings_in_bbox`` / ``buildings_in_polygon``: footprint intersects the closed area;
* ``buildings_in_cell``: the building's point (``code``) lies in the cell;
* ``building_containing``: footprint covers the point (boundary included); the smallest wins;
* ``nearest_building``: the smallest planar distance (local equirectangular metres) from the
  point to a footprint (0 inside); ties broken by id;
* ``people_in_cell``: people with a current resident relation to a house in the cell.

Rows are SQLAlchemy ``Row`` objects with the table's column names as attributes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point, box, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Integer,
    Row,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from yitu.access.scope import (
    SCOPE_KEY,
    SCOPE_PARAM,
    UNRESTRICTED,
    scope_criterion,
    scope_params,
)
from yitu.grid import cover, vector
from yitu.grid.constants import SIZE_LAT, SIZE_LON, UNITS_PER_DEGREE
from yitu.grid.errors import GridError
from yitu.grid.intcode import WEIGHTS, int_descendant_range, to_int
from yitu.people.models import Person
from yitu.registry.models import RESIDENT_RELATIONS, Building, BuildingExtent, PersonHouse

#: Upper bound on the ranges of one prefilter (and on the cells of a direct box cover).
MAX_RANGES = 64
#: A direct box cover uses the finest level with at most this many cells: finer means less
#: area scanned, more cells means more index seeks (merged into few ranges); 36 keeps a
#: 300 m viewport (plus the extent) at level 5 instead of one 1.5 km level-4 cell.
MAX_CELLS = 36
#: Pad areas by this (degrees, ≈ 1 cm) so points exactly on the far edges of a closed box are
#: covered: a cell is open on its far side, and the cover counts only cells sharing area.
EDGE_PAD = 1e-7
#: Metres per degree of latitude in the local equirectangular frame used for distances.
M_PER_DEG = 111_320.0
#: The search box of ``nearest_building`` starts at this half-size and doubles.
NEAREST_START_M = 50.0
NEAREST_LIMIT_M = 200_000.0

Ranges = np.ndarray  # (n, 2) int64 [lo, hi)

_B = Building.__table__
_PH = PersonHouse.__table__
_P = Person.__table__
_K = float(UNITS_PER_DEGREE)

#: Every building column: what the API, the GeoJSON and the exact tests read.
BUILDING_COLUMNS = tuple(_B.c)
#: The person columns the masking serializer reads (plus registration type and care tags).
PERSON_COLUMNS = tuple(
    _P.c[n] for n in ("id", "node_id", "name", "id_number", "phone", "address", "gender",
                      "birth_date", "registration_type", "care_tags")
)
_RESIDENT = [r.value for r in RESIDENT_RELATIONS]


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


#: Sum of WEIGHTS[1..level]: two level-``level`` cells further apart than this always have
#: level-10 codes between them (the merge test below runs only on closer pairs).
_GAP_BOUND = [sum(WEIGHTS[1 : lv + 1]) for lv in range(11)]


def _merge(cells: list[int], level: int) -> Ranges:
    """Sorted level-``level`` cells → ranges of level-10 codes, merged where no level-10 code
    lies between two cells (siblings, and cousins across a parent boundary)."""
    w = WEIGHTS[level]
    merged: list[list[int]] = [[cells[0], cells[0] + w]]
    for c in cells[1:]:
        last = merged[-1]
        gap = c - last[1]
        if gap == 0 or (gap < _GAP_BOUND[level] and cover._next_code_at(last[1], 10) >= c):
            last[1] = c + w
        else:
            merged.append([c, c + w])
    return np.array(merged, dtype=np.int64)


def _axis_parts(level: int, i0: int, i1: int, j0: int, j1: int) -> tuple[list[int], list[int]]:
    """The longitude and latitude parts of the integer codes of cells i0..i1 × j0..j1 at
    ``level`` (north-east quadrant): the code of cell (i, j) is ``col[i] + row[j]``, read from
    the vectorised encoder's own per-axis tables at the cells' south-west corner units."""
    t = vector._int_tables(level)
    sx, sy = SIZE_LON[level], SIZE_LAT[level]
    lo = level >= 7
    col = []
    for i in range(i0, i1 + 1):
        u = i * sx
        col.append(int(t.lon_hi[u >> 12]) + (int(t.lon_lo[u & 4095]) if lo else 0))
    row = []
    for j in range(j0, j1 + 1):
        u = j * sy
        row.append(int(t.lat_hi[u >> 12]) + (int(t.lat_lo[u & 4095]) if lo else 0))
    return col, row


@lru_cache(maxsize=8192)
def _cells_ranges(level: int, i0: int, i1: int, j0: int, j1: int) -> Ranges:
    col, row = _axis_parts(level, i0, i1, j0, j1)
    r = _merge(sorted(c + rr for c in col for rr in row), level)
    r.setflags(write=False)
    return r


def _box_cells(w: float, s: float, e: float, n: float, max_cells: int) -> Ranges | None:
    """Direct cover of a box in the north-east quadrant (老河口 and all of China): the cells of
    the finest level with at most ``max_cells`` cells, enumerated in pure Python (a few µs,
    cached by cell indices, so a panned map reuses them). None where the quadrant rule does
    not hold (a box crossing the equator or the prime meridian)."""
    if w < 0 or s < 0 or e >= 180 or n >= 88:
        return None
    uw, us, ue, un = int(w * _K), int(s * _K), int(e * _K), int(n * _K)
    for level in range(10, 0, -1):
        sx, sy = SIZE_LON[level], SIZE_LAT[level]
        i0, i1, j0, j1 = uw // sx, ue // sx, us // sy, un // sy
        if (i1 - i0 + 1) * (j1 - j0 + 1) <= max_cells:
            return _cells_ranges(level, i0, i1, j0, j1)
    return None


def ranges_for_bbox(
    west: float, south: float, east: float, north: float, max_ranges: int = MAX_RANGES
) -> Ranges:
    """Ranges of level-10 codes covering the closed box (a superset: filter exactly in SQL)."""
    if not (west <= east and south <= north):
        raise GridError(f"bbox ({west}, {south}, {east}, {north}) has west > east or south > north")
    w, s, e, n = west - EDGE_PAD, south - EDGE_PAD, east + EDGE_PAD, north + EDGE_PAD
    direct = _box_cells(w, s, e, n, min(MAX_CELLS, max_ranges))
    if direct is not None:
        return direct
    return _bbox_ranges_cached(w, s, e, n, max_ranges)


@lru_cache(maxsize=1024)
def _bbox_ranges_cached(w: float, s: float, e: float, n: float, max_ranges: int) -> Ranges:
    r = _ranges_for_geometry(box(w, s, e, n), max_ranges)
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
    """``(col >= lo AND col < hi) OR …`` with literal-free bound values (for ad-hoc use; the
    queries below use ``_range_params`` with cached statements)."""
    pairs = [(int(lo), int(hi)) for lo, hi in ranges]
    if not pairs:
        return false()
    clauses = [and_(column >= lo, column < hi) for lo, hi in pairs]
    return clauses[0] if len(clauses) == 1 else or_(*clauses)


def _range_placeholders(column: Any, n: int) -> ColumnElement[bool]:
    """``(col >= :lo_0 AND col < :hi_0) OR …`` for n ranges: one compiled statement per n.
    SQLite answers with a MULTI-INDEX OR of index range searches, PostgreSQL with a BitmapOr."""
    clauses = [
        and_(column >= bindparam(f"lo_{i}"), column < bindparam(f"hi_{i}")) for i in range(n)
    ]
    return clauses[0] if n == 1 else or_(*clauses)


def _range_params(ranges: Ranges) -> dict[str, int]:
    params: dict[str, int] = {}
    for i, (lo, hi) in enumerate(ranges.tolist()):
        params[f"lo_{i}"] = lo
        params[f"hi_{i}"] = hi
    return params


# --- statement cache and execution under the session's scope ---

_statements: dict[tuple[Any, ...], Select[Any]] = {}


#: Adds the jurisdiction filter to a statement over a Jurisdictional table's columns.
Scoper = Callable[[Any], ColumnElement[bool]]


def _scope_any(cols: Any) -> ColumnElement[bool]:
    """PostgreSQL form of ``scope_criterion``: ``node_id = ANY(CAST(:yitu_scope_nodes AS
    INTEGER[]))``, one parameter holding the visible node ids from ``scope_params`` as an
    array literal (``scope_bind``). The expanding ``IN`` renders one placeholder per node; for
    a county scope (752 nodes) the statement exceeds psycopg's query-cache length and psycopg
    re-parses it on every call (26 ms measured); a Python list would be dumped element by
    element (1 ms). Same rows, same ids, one placeholder and one cached string."""
    visible = cast(bindparam(SCOPE_PARAM, type_=Text), ARRAY(Integer))
    return cols.node_id == any_(visible)  # type: ignore[no-any-return]


def scoper(dialect: str) -> Scoper:
    """The scope filter for statements on ``dialect``."""
    return _scope_any if dialect == "postgresql" else scope_criterion


@lru_cache(maxsize=1024)
def _array_literal(ids: tuple[int, ...]) -> str:
    return "{" + ",".join(map(str, ids)) + "}"


def scope_bind(scope: object, dialect: str) -> dict[str, Any]:
    """``scope_params(scope)`` in the form ``scoper(dialect)`` binds (fails closed the same
    way: an unknown scope binds no ids)."""
    params = scope_params(scope)
    if dialect == "postgresql":
        ids = params[SCOPE_PARAM]
        key = ids if isinstance(ids, tuple) else tuple(ids)
        return {SCOPE_PARAM: _array_literal(key)}
    return params


def execute(
    session: Session | Connection,
    key: tuple[Any, ...],
    build: Callable[[Scoper | None], Select[Any]],
    params: dict[str, Any],
) -> Any:
    """Execute the cached Core statement for ``key`` on the session's connection, with the
    scope filter (bound from ``scope_params``) unless the session is UNRESTRICTED. A session
    without a scope binds an empty list and sees nothing; so does a Connection, unless its
    ``info`` carries ``UNRESTRICTED``."""
    scope = session.info.get(SCOPE_KEY)
    restricted = scope is not UNRESTRICTED
    conn = session.connection() if isinstance(session, Session) else session
    dialect = conn.dialect.name
    full_key = (*key, restricted, dialect)
    stmt = _statements.get(full_key)
    if stmt is None:
        stmt = _statements[full_key] = build(scoper(dialect) if restricted else None)
    if restricted:
        params = {**params, **scope_bind(scope, dialect)}
    return conn.execute(stmt, params)


# --- the largest building extent (bounds the distance from a footprint point to its code) ---


@dataclass(frozen=True)
class Extent:
    dlon: float  # max(east - west) over all buildings, degrees
    dlat: float


_EXTENT = select(BuildingExtent.__table__.c.dlon, BuildingExtent.__table__.c.dlat).where(
    BuildingExtent.__table__.c.id == 1
)


def building_extent(session: Session | Connection) -> Extent:
    """The largest footprint extent over all buildings (not only the scope's: it is a bound,
    not data). Read from ``registry_extent``, which database triggers raise on every write to
    ``buildings`` from any process (migration 0003): one primary-key read, never stale."""
    conn = session.connection() if isinstance(session, Session) else session
    row = conn.execute(_EXTENT).first()
    return Extent(float(row[0]), float(row[1])) if row else Extent(0.0, 0.0)


# --- footprints ---

_footprints: dict[tuple[int, int], BaseGeometry] = {}


def footprint(b: Any) -> BaseGeometry:
    """The shapely footprint of a building row, parsed once per (id, text hash) per process."""
    key = (b.id, hash(b.footprint))
    geom = _footprints.get(key)
    if geom is None:
        if len(_footprints) > 300_000:
            _footprints.clear()
        geom = _footprints[key] = shape(json.loads(b.footprint))
        shapely.prepare(geom)
    return geom


# --- building queries ---


def _bbox_statement(n: int) -> Callable[[Scoper | None], Select[Any]]:
    def build(sc: Scoper | None) -> Select[Any]:
        stmt = select(*BUILDING_COLUMNS).where(
            _range_placeholders(_B.c.code, n),
            _B.c.west <= bindparam("e"),
            _B.c.east >= bindparam("w"),
            _B.c.south <= bindparam("n"),
            _B.c.north >= bindparam("s"),
        )
        # No ORDER BY id: SQLite would rather scan the table in rowid order than sort a few
        # rows found by the code index; callers sort in Python.
        return stmt.where(sc(_B.c)) if sc else stmt

    return build


def _bbox_rows(
    session: Session | Connection, w: float, s: float, e: float, n: float, ext: Extent
) -> list[Any]:
    """Buildings whose bbox meets the closed box (their point lies within the box grown by
    the largest extent)."""
    r = ranges_for_bbox(w - ext.dlon, s - ext.dlat, e + ext.dlon, n + ext.dlat)
    params = {**_range_params(r), "w": w, "s": s, "e": e, "n": n}
    return execute(session, ("bbox", len(r)), _bbox_statement(len(r)), params).all()


def _intersects_box(b: Any, q: BaseGeometry, w: float, s: float, e: float, n: float) -> bool:
    if b.west >= w and b.east <= e and b.south >= s and b.north <= n:
        return True  # bbox inside: no geometry needed
    return bool(footprint(b).intersects(q))


def buildings_in_bbox(
    session: Session | Connection,
    west: float,
    south: float,
    east: float,
    north: float,
    limit: int | None = None,
) -> list[Row[Any]]:
    """Buildings whose footprint intersects the closed box, by id. ``limit`` caps the answer
    (callers pass max + 1 to detect an oversized answer)."""
    rows = _bbox_rows(session, west, south, east, north, building_extent(session))
    q = box(west, south, east, north)
    out = []
    for b in sorted(rows, key=lambda b: b.id):
        if _intersects_box(b, q, west, south, east, north):
            out.append(b)
            if limit is not None and len(out) >= limit:
                break
    return out


def _polygon_statement(n: int) -> Callable[[Scoper | None], Select[Any]]:
    return _bbox_statement(n)


def buildings_in_polygon(
    session: Session | Connection, geom: BaseGeometry | dict[str, Any], limit: int | None = None
) -> list[Row[Any]]:
    """Buildings whose footprint intersects the (multi)polygon (boundary included), by id."""
    g = shape(geom) if isinstance(geom, dict) else geom
    ext = building_extent(session)
    w, s, e, n = g.bounds
    search = g.buffer(max(ext.dlon, ext.dlat) + EDGE_PAD, join_style="mitre")
    r = ranges_for_polygon(search)
    params = {**_range_params(r), "w": w, "s": s, "e": e, "n": n}
    rows = execute(session, ("bbox", len(r)), _polygon_statement(len(r)), params).all()
    shapely.prepare(g)
    out = []
    for b in sorted(rows, key=lambda b: b.id):
        if g.intersects(footprint(b)):
            out.append(b)
            if limit is not None and len(out) >= limit:
                break
    return out


def buildings_in_cell(session: Session | Connection, code: str | int) -> list[Row[Any]]:
    """Buildings whose point (``code``) lies in the cell."""

    def build(sc: Scoper | None) -> Select[Any]:
        stmt = select(*BUILDING_COLUMNS).where(_range_placeholders(_B.c.code, 1))
        return stmt.where(sc(_B.c)) if sc else stmt

    rows = execute(session, ("cell",), build, _range_params(ranges_for_cell(code))).all()
    return sorted(rows, key=lambda b: b.id)


def building_containing(session: Session | Connection, lon: float, lat: float) -> Row[Any] | None:
    """The building whose footprint covers the point (edges included); if footprints overlap,
    the smallest footprint, then the lowest id."""
    p = Point(lon, lat)
    rows = _bbox_rows(session, lon, lat, lon, lat, building_extent(session))
    hits = [b for b in rows if footprint(b).covers(p)]
    if not hits:
        return None
    return min(hits, key=lambda b: (footprint(b).area, b.id))


def _metric(lon0: float, lat0: float) -> float:
    return math.cos(math.radians(lat0))


def _distance_m(b: Any, lon: float, lat: float, kx: float) -> float:
    """Planar distance in a local equirectangular frame centred on the query point."""
    geom = footprint(b)
    local = shapely.transform(geom, lambda xy: (xy - (lon, lat)) * (kx * M_PER_DEG, M_PER_DEG))
    return float(local.distance(Point(0.0, 0.0)))


def nearest_building(
    session: Session | Connection, lon: float, lat: float, limit_m: float = NEAREST_LIMIT_M
) -> tuple[Row[Any], float] | None:
    """The building with the nearest footprint and its distance in metres (0 inside), or None
    within ``limit_m``. Exact: after the first hit at distance d, every building within d is
    fetched (its bbox meets the box of half-size d) and the minimum taken."""
    kx = _metric(lon, lat)
    ext = building_extent(session)
    radius = NEAREST_START_M
    while True:
        dlat = radius / M_PER_DEG
        dlon = radius / (M_PER_DEG * kx)
        rows = _bbox_rows(session, lon - dlon, lat - dlat, lon + dlon, lat + dlat, ext)
        found = [(_distance_m(b, lon, lat, kx), b.id, b) for b in rows]
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


def _residents_in_cell(sc: Scoper | None) -> Select[Any]:
    """Person ids with a current resident relation to a house in the (one) code range: the
    covering index ``ix_person_houses_code_cover`` answers it without reading relation rows."""
    sub = select(_PH.c.person_id).where(
        _range_placeholders(_PH.c.code, 1),
        _PH.c.relation.in_(bindparam("resident", expanding=True)),
        _PH.c.valid_from <= bindparam("today"),
        or_(_PH.c.valid_to.is_(None), _PH.c.valid_to > bindparam("today")),
    )
    return sub.where(sc(_PH.c)) if sc else sub


def people_in_cell(session: Session | Connection, code: str | int, today: date) -> list[Row[Any]]:
    """People with a current resident relation (householder, family member, tenant, lodger) to a
    house whose code lies in the cell; each person once, by id (rows of ``PERSON_COLUMNS``)."""

    def build(sc: Scoper | None) -> Select[Any]:
        stmt = select(*PERSON_COLUMNS).where(_P.c.id.in_(_residents_in_cell(sc)))
        return stmt.where(sc(_P.c)) if sc else stmt

    params = {**_range_params(ranges_for_cell(code)), "resident": _RESIDENT, "today": today}
    rows = execute(session, ("people_in_cell",), build, params).all()
    return sorted(rows, key=lambda p: p.id)


def count_people_in_cell(
    session: Session | Connection, code: str | int, today: date
) -> dict[str, int]:
    """Counts by registration type of ``people_in_cell``."""

    def build(sc: Scoper | None) -> Select[Any]:
        stmt = select(_P.c.registration_type, func.count()).where(
            _P.c.id.in_(_residents_in_cell(sc))
        )
        if sc:
            stmt = stmt.where(sc(_P.c))
        return stmt.group_by(_P.c.registration_type)

    params = {**_range_params(ranges_for_cell(code)), "resident": _RESIDENT, "today": today}
    return {str(k): int(v) for k, v in execute(session, ("count_in_cell",), build, params)}
