"""``building_cells``: the level-6 BeiDou cells (~52 m × 62 m) each building's bbox meets, with
the bbox, so ``spatial.building_containing`` is one equality seek on the point's own cell
(migration 0005_registry_cells).

A point inside a footprint is inside its bbox, and cell indices are exact floors of the
coordinates' units (as the codec's), which are monotone: ``west <= lon <= east`` implies the
point's cell column lies between the bbox's first and last. So the rows of the point's cell
whose bbox holds the point are exactly the candidates, with no extent bound (the code-range
path needs the county's largest footprint to grow its search box).

Cells are stored for the part of a bbox in the north-east quadrant (lon in [0, 180), lat in
[0, 88): China); ``spatial.building_containing`` answers other points by code ranges.

Writers: database triggers give every inserted or moved building a ``PENDING`` row (its bbox
under cell -1), whoever writes; the ORM's mapper events on ``Building`` (``yitu.registry.models``)
replace it at once, the demo loader and the migration by ``fill_pending`` after their bulk
writes. Deleting a building cascades to its rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, insert, select, text

from yitu.grid import codec2d, vector
from yitu.grid.constants import MAX_LAT_UNITS, MAX_LON_UNITS, SIZE_LAT, SIZE_LON, UNITS_PER_DEGREE
from yitu.registry.models import Building, BuildingCell

#: The level of the stored cells: a footprint of the county's (≤ ~50 m × 20 m) meets 1–4 of
#: them (~1.5 rows per building), and a cell holds a few dozen bboxes at most in a town.
LEVEL = 6
_SIZE_X, _SIZE_Y = SIZE_LON[LEVEL], SIZE_LAT[LEVEL]
_K = float(UNITS_PER_DEGREE)
_EPS = 1e-6  # units, as ``vector._units``: values this close to an edge take the exact rule

#: The cell of a building whose cells are not computed yet: database triggers give every
#: inserted or moved building this row (whoever writes: psql, a bulk copy), so
#: ``building_containing``, which always probes it too, never misses one; the ORM's events
#: and ``fill_pending`` replace it by the real cells.
PENDING = -1
#: The PostgreSQL setting that makes the triggers skip pending rows (``skip_pending``).
SKIP_SETTING = "yitu.building_cells_by_caller"

_BC = BuildingCell.__table__
_B = Building.__table__


def _unit(v: float, scalar: Any) -> int:
    """floor(v·K) for v ≥ 0, exactly as ``vector._units`` (the exact rule near an edge)."""
    p = v * _K
    u = int(p)
    f = p - u
    if f < _EPS or f > 1 - _EPS:
        u = scalar(v)[1]
    return u


def point_cell(lon: float, lat: float) -> int | None:
    """The level-6 integer code of the cell holding the point, or None outside the quadrant
    the table covers."""
    if not (0.0 <= lon < 180.0 and 0.0 <= lat < 88.0):
        return None
    t = vector._int_tables(LEVEL)
    ux, uy = _unit(lon, codec2d.lon_units), _unit(lat, codec2d.lat_units)
    return int(t.lon_hi[ux >> 12]) + int(t.lat_hi[uy >> 12])


def cell_rows(
    ids: Any, west: Any, south: Any, east: Any, north: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every level-6 cell each closed bbox meets (its part in the quadrant): (index of the
    building in the inputs, cell code) as two arrays, and the ids as an array."""
    ids_a = np.asarray(ids, dtype=np.int64)
    w = np.clip(np.asarray(west, dtype=np.float64), 0.0, None)
    s = np.clip(np.asarray(south, dtype=np.float64), 0.0, None)
    e = np.asarray(east, dtype=np.float64)
    n = np.asarray(north, dtype=np.float64)
    keep = (e >= 0) & (n >= 0) & (w < 180) & (s < 88)
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, ids_a
    w, s, e, n = w[idx], s[idx], np.minimum(e[idx], 180.0), np.minimum(n[idx], 88.0)

    def units(v: np.ndarray, scalar: Any, limit: int) -> np.ndarray:
        return np.minimum(vector._units(v, scalar), limit - 1)

    i0 = units(w, codec2d.lon_units, MAX_LON_UNITS) // _SIZE_X
    i1 = units(e, _clamped(codec2d.lon_units, 180.0), MAX_LON_UNITS) // _SIZE_X
    j0 = units(s, codec2d.lat_units, MAX_LAT_UNITS) // _SIZE_Y
    j1 = units(n, _clamped(codec2d.lat_units, 88.0), MAX_LAT_UNITS) // _SIZE_Y
    ni, nj = i1 - i0 + 1, j1 - j0 + 1
    count = ni * nj
    owner = np.repeat(np.arange(idx.size), count)
    k = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)  # 0..count-1
    ci = i0[owner] + k // nj[owner]
    cj = j0[owner] + k % nj[owner]
    t = vector._int_tables(LEVEL)
    code = t.lon_hi.take(ci).astype(np.int64) + t.lat_hi.take(cj)
    return idx[owner], code, ids_a


def _clamped(scalar: Any, limit: float) -> Any:
    """The exact rule for a far edge clipped to the quadrant's limit (which it cannot encode)."""

    def rule(v: float) -> tuple[bool, int]:
        if v >= limit:
            return True, int(limit * UNITS_PER_DEGREE) - 1
        return scalar(v)  # type: ignore[no-any-return]

    return rule


def _dicts(rows: Any) -> list[dict[str, Any]]:
    ids, west, south, east, north = (
        (list(c) for c in zip(*rows, strict=True)) if rows else ([],) * 5
    )
    at, code, ids_a = cell_rows(ids, west, south, east, north)
    return [
        {
            "cell": c,
            "building_id": int(ids_a[i]),
            "west": west[i],
            "south": south[i],
            "east": east[i],
            "north": north[i],
        }
        for i, c in zip(at.tolist(), code.tolist(), strict=True)
    ]


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if conn.dialect.name == "postgresql":
        cols = ("cell", "building_id", "west", "south", "east", "north")
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cur.copy(f"COPY building_cells ({', '.join(cols)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(tuple(r[c] for c in cols))
        cur.close()
    else:
        for start in range(0, len(rows), 50_000):
            conn.execute(insert(_BC), rows[start : start + 50_000])


def skip_pending(conn: Connection) -> None:
    """For a bulk writer that calls ``fill`` itself in the same transaction: on PostgreSQL the
    triggers write no pending rows for the rest of it. Deleting them again would leave as many
    dead entries under the one ``PENDING`` key, which every probe reads until a VACUUM
    (measured: 223k of them, 28 ms a probe). SQLite deletes B-tree entries at once."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"SET LOCAL {SKIP_SETTING} = 'on'"))


def fill(conn: Connection, min_id: int | None = None) -> int:
    """Compute the cells of the buildings with ``id >= min_id`` (all when None), replacing
    their rows (pending or not). Returns the number of cell rows written."""
    stmt = select(_B.c.id, _B.c.west, _B.c.south, _B.c.east, _B.c.north)
    if min_id is not None:
        stmt = stmt.where(_B.c.id >= min_id)
        conn.execute(delete(_BC).where(_BC.c.building_id >= min_id))
    else:
        conn.execute(delete(_BC))
    rows = _dicts(conn.execute(stmt).all())
    if rows:
        _insert(conn, rows)
    return len(rows)


def fill_pending(conn: Connection) -> int:
    """Replace the ``PENDING`` rows (buildings written without the ORM, e.g. by psql) by the
    buildings' cells. Returns the number of cell rows written."""
    pend = _BC.c.cell == PENDING
    rows = _dicts(
        conn.execute(
            select(_BC.c.building_id, _BC.c.west, _BC.c.south, _BC.c.east, _BC.c.north).where(pend)
        ).all()
    )
    conn.execute(delete(_BC).where(pend))
    if rows:
        _insert(conn, rows)
    return len(rows)


def replace(conn: Connection, buildings: list[tuple[int, float, float, float, float]]) -> None:
    """Rewrite the cells of these (id, west, south, east, north) buildings (ORM writes)."""
    conn.execute(delete(_BC).where(_BC.c.building_id.in_([b[0] for b in buildings])))
    rows = _dicts(buildings)
    if rows:
        conn.execute(insert(_BC), rows)
