"""Spatial queries on BeiDou integer code ranges (no PostGIS): the same SQL on SQLite and
PostgreSQL, answered by ordinary B-tree indexes on ``code``.

Every query has two steps:

1. a **range prefilter** ``code >= lo AND code < hi OR …`` over a cover of the search area: for
   a box (viewports, point lookups) the cells of one level are enumerated directly (the integer
   code is a sum of a longitude part and a latitude part, so a box of cells is two small encodes
   and an outer sum), at the finest level with at most ``MAX_CELLS`` cells (``MAX_POINT_CELLS``
   for a point lookup), and merged into ranges; polygons use the general ``yitu.grid.cover``.
   The exact bbox tests run in the same SQL on the covering index's columns (migration 0003),
   so only hits touch the table. The search area is grown by the largest footprint extent
   (``registry_extent``); a viewport checks the bound it assumed in the same statement
   (``_bbox_rows_checked``) instead of reading it first;
2. an **exact test** in Python with shapely on the few candidate footprints, where the answer
   depends on the footprint rather than the building's point.

``building_containing`` skips the ranges: it seeks the point's level-6 cell in
``building_cells`` (``yitu.registry.cells``: the cells each building's bbox meets, with the
bbox), one equality probe needing no extent bound, then the same exact test.

The statements are Core selects of columns (no ORM entities), compiled once per shape (kind,
number of ranges, scope shape) and executed on the session's connection. The jurisdiction
scope is part of every statement, as the runs of consecutive node ids it holds (``scope_bind``,
``scoper``: on SQLite ``node_id + 0 BETWEEN …`` terms, on PostgreSQL one ``int4multirange``
parameter; exactly the ids of ``scope_params``, and an unknown scope matches nothing); only
a session opened UNRESTRICTED (trusted CLI) gets the statement without it.

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
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import shapely
from shapely.geometry import Point, box, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Date,
    Engine,
    Float,
    Integer,
    Row,
    Select,
    Text,
    and_,
    bindparam,
    cast,
    false,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import INT4MULTIRANGE
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.visitors import InternalTraversal

from yitu.access.scope import (
    SCOPE_KEY,
    SCOPE_PARAM,
    UNRESTRICTED,
    Scope,
    scope_criterion,
)
from yitu.grid import cover, vector
from yitu.grid.constants import LEVEL_RADIX, SIZE_LAT, SIZE_LON, UNITS_PER_DEGREE
from yitu.grid.errors import GridError
from yitu.grid.intcode import WEIGHTS, int_descendant_range, to_int
from yitu.people.models import Person
from yitu.registry import cells
from yitu.registry.models import (
    RESIDENT_RELATIONS,
    Building,
    BuildingCell,
    BuildingExtent,
    PersonHouse,
)

#: Upper bound on the ranges of one prefilter (and on the cells of a direct box cover).
MAX_RANGES = 64
#: A direct box cover uses the finest level with at most this many cells: finer means less
#: area scanned, more cells means more index seeks (merged into few ranges). For a 300 m
#: viewport (plus the extent) 16 and 36 cost the same on SQLite, and 16 is ~17 % faster on
#: PostgreSQL, where every range is one more bitmap index scan to plan and run (rows of 700
#: viewports, interleaved, load 10: SQLite p50 0.30 / 0.30 ms, PostgreSQL 0.83 / 1.01 ms).
MAX_CELLS = 16
#: The same bound for a point lookup (``building_containing``): its search box is the point
#: grown by the largest footprint extent (~100 m × 40 m in 老河口). Four cells (level 5,
#: ~100 m) scan a few more index entries than level 6's six to nine but need fewer seeks,
#: fewer bound ranges and a cheaper cover (measured: 23 against 37 µs of SQLite time for 36).
MAX_POINT_CELLS = 4
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
_BC = BuildingCell.__table__
_PH = PersonHouse.__table__
_E = BuildingExtent.__table__
_P = Person.__table__
_K = float(UNITS_PER_DEGREE)

#: Every building column: what the API, the GeoJSON and the exact tests read.
BUILDING_COLUMNS = tuple(_B.c)
#: The person columns the masking serializer reads (plus registration type and care tags).
PERSON_COLUMNS = tuple(
    _P.c[n]
    for n in (
        "id",
        "node_id",
        "name",
        "id_number",
        "phone",
        "address",
        "gender",
        "birth_date",
        "registration_type",
        "care_tags",
    )
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


def _successor(c: int, level: int) -> int:
    """The next level-``level`` cell after cell ``c`` in code order (-1 past the last): the next
    sibling, or after the last sibling the first child of the parent's successor. Between two
    consecutive cells of a level lie only the codes of coarser cells, never a level-10 code."""
    if level == 0:
        return -1
    if c % WEIGHTS[level - 1] // WEIGHTS[level] < LEVEL_RADIX[level]:
        return c + WEIGHTS[level]
    after = _successor(c - c % WEIGHTS[level - 1], level - 1)
    return -1 if after < 0 else after + WEIGHTS[level]


def _merge(cells: list[int], level: int) -> Ranges:
    """Sorted level-``level`` cells → ranges of level-10 codes, merged where no level-10 code
    lies between two cells: where a cell is the next one after the previous in code order
    (siblings, and cousins across a parent boundary)."""
    w = WEIGHTS[level]
    merged: list[list[int]] = [[cells[0], cells[0] + w]]
    for c in cells[1:]:
        last = merged[-1]
        if c == last[1] or c == _successor(last[1] - w, level):
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


class _Fixed(ColumnElement[Any]):
    """A bound value the PostgreSQL planner may not look at: ``(SELECT :value)`` there (an
    InitPlan parameter, still an index condition), the bare parameter elsewhere.

    PostgreSQL plans a prepared statement (psycopg prepares after five executions) for its
    parameters' values ("custom plan") as long as that looks cheaper than a plan for any
    values ("generic plan"); with the values visible, a code range's histogram estimate is
    always far below the generic default, so every call was planned again (0.05–0.1 ms of a
    0.2 ms query, for yitu's statements and the naive peer's alike). With every value hidden,
    both estimates are the same and PostgreSQL keeps the generic plan, which is the same
    plan (the code ranges and bbox tests as index conditions)."""

    inherit_cache = True
    # the wrapped value is part of the statement's cache key and its parameters
    _traverse_internals: ClassVar[Any] = [("value", InternalTraversal.dp_clauseelement)]

    def __init__(self, value: ColumnElement[Any]) -> None:
        self.value = value
        self.type = value.type


@compiles(_Fixed)
def _fixed_default(element: _Fixed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.value, **kw))


@compiles(_Fixed, "postgresql")
def _fixed_postgresql(element: _Fixed, compiler: Any, **kw: Any) -> str:
    return f"(SELECT {compiler.process(element.value, **kw)})"


def _value(name: str, type_: Any) -> _Fixed:
    return _Fixed(bindparam(name, type_=type_))


def _range_placeholders(column: Any, n: int) -> ColumnElement[bool]:
    """``(col >= :lo_0 AND col < :hi_0) OR …`` for n ranges: one compiled statement per n.
    SQLite answers with a MULTI-INDEX OR of index range searches, PostgreSQL with a BitmapOr."""
    clauses = [
        and_(column >= _value(f"lo_{i}", BigInteger), column < _value(f"hi_{i}", BigInteger))
        for i in range(n)
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

#: A scope is bound as runs of consecutive node ids (a subtree's ids are mostly consecutive:
#: the county scope's 755 nodes are one run). SQLite gets ``node_id + 0 BETWEEN :lo AND :hi
#: OR …`` with the number of runs padded to a power of two (a few statement shapes, each
#: compiled once); more runs than this fall back to ``scope_criterion``'s expanding IN.
MAX_SCOPE_RUNS = 32
_RUN_LO = "yitu_scope_lo_"
_RUN_HI = "yitu_scope_hi_"
#: The statement shape of a scope binding: ("runs", k) or ("in",) on SQLite, ("multirange",)
#: on PostgreSQL.
ScopeShape = tuple[Any, ...]


@lru_cache(maxsize=256)
def _runs(node_ids: frozenset[int]) -> tuple[tuple[int, int], ...]:
    """Sorted node ids → inclusive runs (lo, hi) of consecutive ids."""
    runs: list[list[int]] = []
    for i in sorted(node_ids):
        if runs and runs[-1][1] + 1 == i:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return tuple((lo, hi) for lo, hi in runs)


def _scope_runs(size: int) -> Scoper:
    """SQLite: the visible ids as ``size`` inclusive runs. ``node_id + 0`` keeps the planner
    off ``ix_*_node_id`` (a county run covers every row; the code index must lead)."""

    def criterion(cols: Any) -> ColumnElement[bool]:
        if size == 0:
            return false()  # an empty or unknown scope sees nothing
        col = cols.node_id + literal_column("0")
        terms = [
            col.between(
                bindparam(f"{_RUN_LO}{i}", type_=Integer), bindparam(f"{_RUN_HI}{i}", type_=Integer)
            )
            for i in range(size)
        ]
        return terms[0] if size == 1 else or_(*terms)

    return criterion


def _scope_multirange(cols: Any) -> ColumnElement[bool]:
    """PostgreSQL: ``node_id <@ CAST(:yitu_scope_nodes AS int4multirange)``, the runs as one
    multirange literal: one statement for every scope; ``<@`` is not a B-tree operator, so
    the scope is never an index condition (as ``= ANY(…)`` on ``ix_*_node_id`` it made one
    index descent per node: 44 ms for a county scope), and a plan does not depend on the
    number of nodes (``= ANY(array)`` made the planner estimate each of 752 elements:
    ~0.6 ms of planning per call)."""
    visible = _Fixed(cast(bindparam(SCOPE_PARAM, type_=Text), INT4MULTIRANGE))
    return cols.node_id.op("<@")(visible)  # type: ignore[no-any-return]


def scoper(dialect: str, shape: ScopeShape) -> Scoper:
    """The scope filter for statements on ``dialect`` of a binding's ``shape``."""
    if dialect == "postgresql":
        return _scope_multirange
    if shape[0] == "in":
        return scope_criterion
    return _scope_runs(int(shape[1]))


@lru_cache(maxsize=256)
def _bind(node_ids: frozenset[int], dialect: str) -> tuple[ScopeShape, dict[str, Any]]:
    runs = _runs(node_ids)
    if dialect == "postgresql":
        text_ = "{" + ",".join(f"[{lo},{hi + 1})" for lo, hi in runs) + "}"
        return ("multirange",), {SCOPE_PARAM: text_}
    if len(runs) > MAX_SCOPE_RUNS:
        return ("in",), {SCOPE_PARAM: sorted(node_ids)}
    size = 1 << (len(runs) - 1).bit_length() if runs else 0
    padded = list(runs) + list(runs[-1:]) * (size - len(runs))  # repeats are harmless
    params: dict[str, Any] = {}
    for i, (lo, hi) in enumerate(padded):
        params[f"{_RUN_LO}{i}"] = lo
        params[f"{_RUN_HI}{i}"] = hi
    return ("runs", size), params


def scope_bind(scope: object, dialect: str) -> tuple[ScopeShape, dict[str, Any]]:
    """The statement shape and parameters binding ``scope`` for ``scoper(dialect, shape)``:
    exactly the ids of ``scope_params(scope)``, and it fails closed the same way (anything
    but a ``Scope`` binds no ids and sees nothing)."""
    if scope is UNRESTRICTED:
        raise ValueError("UNRESTRICTED reads run without a scope filter, not scope_bind")
    ids = scope.node_ids if isinstance(scope, Scope) else frozenset()
    return _bind(ids, dialect)


def execute(
    session: Session | Connection,
    key: tuple[Any, ...],
    build: Callable[[Scoper | None], Select[Any]],
    params: dict[str, Any],
) -> Any:
    """Execute the cached Core statement for ``key`` on the session's connection, with the
    scope filter (``scope_bind``) unless the session is UNRESTRICTED. A session without a
    scope sees nothing; so does a Connection, unless its ``info`` carries ``UNRESTRICTED``."""
    scope = session.info.get(SCOPE_KEY)
    conn = session.connection() if isinstance(session, Session) else session
    dialect = conn.dialect.name
    if scope is UNRESTRICTED:
        shape: ScopeShape | None = None
    else:
        shape, scope_params_ = scope_bind(scope, dialect)
        params = {**params, **scope_params_}
    full_key = (*key, shape, dialect)
    stmt = _statements.get(full_key)
    if stmt is None:
        stmt = _statements[full_key] = build(scoper(dialect, shape) if shape else None)
    return conn.execute(stmt, params)


# --- the largest building extent (bounds the distance from a footprint point to its code) ---


@dataclass(frozen=True)
class Extent:
    dlon: float  # max(east - west) over all buildings, degrees
    dlat: float


_EXTENT = select(_E.c.dlon, _E.c.dlat).where(_E.c.id == 1)


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
            _B.c.west <= _value("e", Float),
            _B.c.east >= _value("w", Float),
            _B.c.south <= _value("n", Float),
            _B.c.north >= _value("s", Float),
        )
        # No ORDER BY id: SQLite would rather scan the table in rowid order than sort a few
        # rows found by the code index; callers sort in Python.
        return stmt.where(sc(_B.c)) if sc else stmt

    return build


def _bbox_rows(
    session: Session | Connection,
    w: float,
    s: float,
    e: float,
    n: float,
    ext: Extent,
    max_cells: int = MAX_CELLS,
) -> list[Any]:
    """Buildings whose bbox meets the closed box (their point lies within the box grown by
    the largest extent)."""
    r = ranges_for_bbox(w - ext.dlon, s - ext.dlat, e + ext.dlon, n + ext.dlat, max_cells)
    params = {**_range_params(r), "w": w, "s": s, "e": e, "n": n}
    return execute(session, ("bbox", len(r)), _bbox_statement(len(r)), params).all()


def _bbox_checked_statement(n: int) -> Callable[[Scoper | None], Select[Any]]:
    """``_bbox_statement`` that also checks the extent the cover was grown by, in the same
    statement: ``registry_extent LEFT JOIN buildings ON (ranges, bbox, scope, current extent
    <= the one assumed)``. Rows mean the cover was wide enough (the check ran in the
    statement's own snapshot); one row of NULLs means no building matched or the extent grew
    (the caller reads it to tell which)."""

    def build(sc: Scoper | None) -> Select[Any]:
        on = and_(
            _range_placeholders(_B.c.code, n),
            _B.c.west <= _value("e", Float),
            _B.c.east >= _value("w", Float),
            _B.c.south <= _value("n", Float),
            _B.c.north >= _value("s", Float),
            _E.c.dlon <= _value("ext_dlon", Float),
            _E.c.dlat <= _value("ext_dlat", Float),
        )
        if sc:
            on = and_(on, sc(_B.c))  # in ON, not WHERE: the extent row must survive no match
        return select(*BUILDING_COLUMNS).select_from(_E.outerjoin(_B, on)).where(_E.c.id == 1)

    return build


#: Per engine, the extent bound the last viewport was checked against: the next cover is
#: grown by it (a guess the statement checks, so it is never trusted stale).
_assumed_extent: weakref.WeakKeyDictionary[Engine, Extent] = weakref.WeakKeyDictionary()


def _bbox_rows_checked(
    session: Session | Connection, w: float, s: float, e: float, n: float
) -> list[Any]:
    """``_bbox_rows`` in one statement instead of two: the cover is grown by the extent bound
    the previous call used, and the statement itself checks that bound against
    ``registry_extent``. Only when it returns nothing is the extent read (a second statement,
    as before): unchanged, the answer is empty; grown (a larger building written since), the
    cover may have been too small, and the call runs again with the new bound."""
    engine = (session.connection() if isinstance(session, Session) else session).engine
    ext = _assumed_extent.get(engine)
    if ext is None:
        ext = _assumed_extent[engine] = building_extent(session)
    while True:
        r = ranges_for_bbox(w - ext.dlon, s - ext.dlat, e + ext.dlon, n + ext.dlat, MAX_CELLS)
        params = {
            **_range_params(r),
            "w": w,
            "s": s,
            "e": e,
            "n": n,
            "ext_dlon": ext.dlon,
            "ext_dlat": ext.dlat,
        }
        stmt = _bbox_checked_statement(len(r))
        rows = execute(session, ("bbox_checked", len(r)), stmt, params).all()
        if rows and rows[0].id is not None:
            return rows
        if not rows:  # no extent row at all (the migrations write it): the plain two reads
            return _bbox_rows(session, w, s, e, n, building_extent(session))
        now = _assumed_extent[engine] = building_extent(session)
        if now.dlon <= ext.dlon and now.dlat <= ext.dlat:
            return []  # nothing there
        ext = now  # the bound grew since: cover the wider box


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
    rows = _bbox_rows_checked(session, west, south, east, north)
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


def _containing_statement(sc: Scoper | None) -> Select[Any]:
    """The buildings whose bbox holds the point, found by the point's level-6 cell in
    ``building_cells`` (one equality seek, the bbox tested on the key's entries) and joined to
    ``buildings`` by id: one statement, no extent bound."""
    x, y = _value("x", Float), _value("y", Float)
    stmt = (
        select(*BUILDING_COLUMNS)
        .select_from(_BC.join(_B, _B.c.id == _BC.c.building_id))
        .where(
            # the point's cell, and the buildings whose cells are not computed yet
            _BC.c.cell.in_([_value("cell", BigInteger), literal_column(str(cells.PENDING))]),
            _BC.c.west <= x,
            _BC.c.east >= x,
            _BC.c.south <= y,
            _BC.c.north >= y,
        )
    )
    return stmt.where(sc(_B.c)) if sc else stmt


def building_containing(session: Session | Connection, lon: float, lat: float) -> Row[Any] | None:
    """The building whose footprint covers the point (edges included); if footprints overlap,
    the smallest footprint, then the lowest id."""
    p = Point(lon, lat)
    cell = cells.point_cell(lon, lat)
    if cell is not None:
        params = {"cell": cell, "x": lon, "y": lat}
        rows = execute(session, ("containing",), _containing_statement, params).all()
    else:  # outside the quadrant ``building_cells`` covers: code ranges around the point
        rows = _bbox_rows(session, lon, lat, lon, lat, building_extent(session), MAX_POINT_CELLS)
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
        # the same four relations on every call: literals, estimated alike in every plan
        _PH.c.relation.in_(bindparam("resident", expanding=True, literal_execute=True)),
        _PH.c.valid_from <= _value("today", Date),
        or_(_PH.c.valid_to.is_(None), _PH.c.valid_to > _value("today", Date)),
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
