"""Covers: the cells of one level that a geometry touches, compact mixed-level covers, 3D covers
and the integer code ranges for SQL range queries.

Semantics:

* **areas** (polygons): a cell is in the cover when it shares area with the polygon (their
  interiors meet). Touching along an edge or at a corner does not count, so the cover of a
  cell's own polygon is that cell, and covers of adjacent polygons do not overlap needlessly.
  Overlaps thinner than 1e-6 units (1.4e-13°, the rounding of a cell edge written as a
  double) count as touching: a polygon built from a cell's float bbox covers that cell only.
* **lines and points**: a cell is in the cover when it *owns* a point of the geometry under the
  codec's rule (cells are closed on the side nearest (0°, 0°), open on the far side), so every
  point of the geometry encodes into a cell of its cover. (Clipping in floating point may add
  a cell that the geometry misses by less than ~1e-12°: a superset, never a missing cell.)

Algorithm: split the geometry by hemisphere quadrant and fold it to |lon|, |lat|; cut it into
the cell rows of the level with one vectorised shapely intersection; each connected piece of a
row projects onto an interval of longitudes, whose first and last columns follow from the exact
unit rule. Rows × column runs are then turned into integer codes by the vectorised table
encoder, so the cost is one shapely call per row plus a few array operations per cell.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import shapely
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from yitu.grid import codec2d, vector
from yitu.grid.constants import (
    LEVEL_RADIX,
    MAX_LEVEL,
    POLAR_LIMIT_DEG,
    SIZE_LAT,
    SIZE_LON,
    UNITS_PER_DEGREE,
)
from yitu.grid.errors import CoordinateError, GridError
from yitu.grid.height import Layer, Profile, check_profile, layer_index
from yitu.grid.intcode import WEIGHTS, int_slots

#: Refuse covers larger than this many cells unless the caller raises the limit.
DEFAULT_MAX_CELLS = 50_000_000
_K = UNITS_PER_DEGREE
_WORLD = box(-180.0, -POLAR_LIMIT_DEG, 180.0, POLAR_LIMIT_DEG)
# (east, north, sign_x, sign_y, quadrant box)
_QUADRANTS = (
    (True, True, 1.0, 1.0, box(0.0, 0.0, 180.0, POLAR_LIMIT_DEG)),
    (False, True, -1.0, 1.0, box(-180.0, 0.0, 0.0, POLAR_LIMIT_DEG)),
    (False, False, -1.0, -1.0, box(-180.0, -POLAR_LIMIT_DEG, 0.0, 0.0)),
    (True, False, 1.0, -1.0, box(0.0, -POLAR_LIMIT_DEG, 180.0, 0.0)),
)


def as_geometry(geometry: BaseGeometry | Mapping[str, Any]) -> BaseGeometry:
    """A shapely geometry from a shapely object or a GeoJSON geometry/Feature/FeatureCollection."""
    if isinstance(geometry, BaseGeometry):
        geom = geometry
    elif isinstance(geometry, Mapping):
        kind = geometry.get("type")
        try:
            if kind == "FeatureCollection":
                geom = shapely.union_all([shape(f["geometry"]) for f in geometry["features"]])
            elif kind == "Feature":
                geom = shape(geometry["geometry"])
            else:
                geom = shape(geometry)
        except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.ShapelyError) as e:
            raise GridError(f"not a valid GeoJSON geometry ({kind!r}): {e}") from None
    else:
        raise GridError(f"expected a shapely geometry or a GeoJSON mapping, got {type(geometry)}")
    if geom.is_empty:
        raise GridError("the geometry is empty")
    if not shapely.is_valid(geom):
        geom = shapely.make_valid(geom)
    w, s, e, n = geom.bounds
    if w < -180.0 or e > 180.0 or s < -90.0 or n > 90.0:
        raise CoordinateError(f"geometry bounds {geom.bounds} are outside lon/lat degrees")
    return geom


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort + neighbour compare; numpy's hash-based unique is ~50×
    slower on millions of int64 codes)."""
    v = np.sort(np.asarray(values, dtype=np.int64).reshape(-1))
    if v.size < 2:
        return v
    keep = np.empty(v.size, dtype=bool)
    keep[0] = True
    np.not_equal(v[1:], v[:-1], out=keep[1:])
    return v[keep]


def _fold(geom: BaseGeometry, sx: float, sy: float) -> BaseGeometry:
    if sx > 0 and sy > 0:
        return geom
    return shapely.transform(geom, lambda c: c * np.array([sx, sy]))


def _exact_units(degrees: float) -> int:
    return codec2d.folded_units(codec2d.exact_decimal(degrees, "coordinate"))


#: Areal overlaps thinner than this many units are edge contact (float rounding of an edge).
_AREA_EPS = 1e-6


def _runs(folded: BaseGeometry, level: int, max_cells: int,
          areal: bool) -> tuple[np.ndarray, ...]:
    """(row, first column, last column) runs of the cover cells of a folded geometry."""
    w, h = SIZE_LON[level], SIZE_LAT[level]
    xmin, ymin, xmax, ymax = folded.bounds
    if areal:  # rows whose interior meets the area
        r0 = int(np.floor((ymin * _K + _AREA_EPS) / h))
        r1 = int(np.ceil((ymax * _K - _AREA_EPS) / h)) - 1
    else:  # rows owning a point
        r0 = _exact_units(ymin) // h
        r1 = min(_exact_units(ymax), POLAR_LIMIT_DEG * _K - 1) // h
    rows = np.arange(r0, r1 + 1, dtype=np.int64)
    estimate = rows.size * ((_exact_units(xmax) - _exact_units(xmin)) // w + 1)
    if rows.size > max_cells or (folded.area > 0 and estimate > 4 * max_cells):
        raise GridError(f"cover at level {level} would exceed {max_cells} cells; "
                        "use a coarser level, a compact cover or raise max_cells")
    strips = shapely.box(xmin - 1, rows * h / _K, xmax + 1, (rows + 1) * h / _K)
    pieces = shapely.intersection(folded, strips)
    parts, owner = shapely.get_parts(pieces, return_index=True)
    solid = ~shapely.is_empty(parts)
    parts, owner = parts[solid], owner[solid]
    if parts.size == 0:
        return (np.empty(0, np.int64),) * 3
    b = shapely.bounds(parts)
    row = rows[owner]
    if areal:  # columns whose interior meets a piece's interior; slivers give hi < lo
        keep = (b[:, 3] - b[:, 1]) * _K > _AREA_EPS
        b, row = b[keep], row[keep]
        lo = np.floor((b[:, 0] * _K + _AREA_EPS) / w).astype(np.int64)
        hi = np.ceil((b[:, 2] * _K - _AREA_EPS) / w).astype(np.int64) - 1
        return row, lo, hi
    # lines and points: the strips are float boxes, so a piece touching a strip's edge is kept
    # only if the exact rule puts some of it in this row (an edge point belongs to one row)
    keep = vector._units(b[:, 1], codec2d.lat_units) < (row + 1) * h
    keep &= vector._units(np.minimum(b[:, 3], POLAR_LIMIT_DEG - 1e-9), codec2d.lat_units) >= row * h
    b, row = b[keep], row[keep]
    lo = vector._units(b[:, 0], codec2d.lon_units) // w
    hi = vector._units(np.minimum(b[:, 2], 180.0), codec2d.lon_units) // w
    return row, lo, hi


def _expand(row: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (row, column) pairs of column runs lo..hi (inclusive) of each row."""
    counts = hi - lo + 1
    total = int(counts.sum())
    starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
    cols = np.arange(total, dtype=np.int64) + starts
    return np.repeat(row, counts), cols


def _cover_part(geom: BaseGeometry, level: int, areal: bool, max_cells: int) -> list[np.ndarray]:
    """Integer codes of the cover of one line or polygon, by hemisphere quadrant."""
    out = []
    w, h = SIZE_LON[level], SIZE_LAT[level]
    geom = shapely.intersection(geom, _WORLD)
    for east, north, sx, sy, quad in _QUADRANTS:
        part = shapely.intersection(geom, quad)
        if part.is_empty:
            continue
        west_edge, south_edge = part.bounds[:2]
        if not areal and ((not north and south_edge == 0.0) or (not east and west_edge == 0.0)):
            continue  # lies on the equator (prime meridian), which N (E) cells own
        row, lo, hi = _runs(_fold(part, sx, sy), level, max_cells, areal)
        keep = hi >= lo
        row, lo, hi = row[keep], lo[keep], hi[keep]
        if row.size == 0:
            continue
        total = int((hi - lo + 1).sum())
        if total > max_cells:
            raise GridError(f"cover at level {level} has {total} cells, above max_cells "
                            f"{max_cells}; use a coarser level or a compact cover")
        rows, cols = _expand(row, lo, hi)
        n = rows.size
        out.append(vector.int_from_units(np.full(n, east), np.full(n, north),
                                         cols * w, rows * h, level))
    return out


def cover_cells(geometry: BaseGeometry | Mapping[str, Any], level: int,
                max_cells: int = DEFAULT_MAX_CELLS) -> np.ndarray:
    """Sorted integer codes of the level-``level`` cells owning points of a geometry.

    Works for points, lines, polygons and their multi/collection forms; the part of the
    geometry in the polar caps (|lat| ≥ 88°) is outside the code's domain and ignored.
    """
    codec2d.check_level(level)
    parts = shapely.get_parts(as_geometry(geometry))  # flattens multi-parts and collections
    dims = shapely.get_dimensions(parts)
    out = []
    # points, and the vertices of lines, are points of the geometry: encode them exactly (this
    # also keeps the cells of vanishingly short segments that GEOS may lose when cutting rows)
    xy = shapely.get_coordinates(parts[dims < 2])
    xy = xy[np.abs(xy[:, 1]) < POLAR_LIMIT_DEG]
    if xy.size:
        out.append(vector.encode_int(xy[:, 0], xy[:, 1], level))
    # each line and each polygon on its own: scanning the bbox of scattered parts would cost
    # rows nobody asked for
    polygons = shapely.get_parts(shapely.union_all(parts[dims == 2])) if (dims == 2).any() else []
    for part, areal in [*((p, False) for p in parts[dims == 1]), *((p, True) for p in polygons)]:
        out.extend(_cover_part(part, level, areal, max_cells))
    if not out:
        return np.empty(0, dtype=np.int64)
    return sorted_unique(np.concatenate(out))


def cover_codes(geometry: BaseGeometry | Mapping[str, Any], level: int,
                max_cells: int = DEFAULT_MAX_CELLS) -> list[str]:
    """``cover_cells`` as code strings, in code order."""
    codes = vector.int_to_str(cover_cells(geometry, level, max_cells))
    return np.char.decode(codes, "ascii").tolist()


def compact(codes: np.ndarray, min_level: int = 1) -> np.ndarray:
    """Replace every complete set of siblings by their parent, repeatedly (mixed levels).

    Input: integer codes (any levels); output: sorted integer codes covering the same area with
    no cell above ``min_level`` whose children are all present.
    """
    v = sorted_unique(codes)
    if v.size == 0:
        return v
    levels = vector.int_level(v)
    for lv in range(int(levels.max()), min_level, -1):
        at = levels == lv
        if not at.any():
            continue
        parents = v[at] - v[at] % WEIGHTS[lv - 1]
        uniq, counts = np.unique(parents, return_counts=True)
        full = uniq[counts == LEVEL_RADIX[lv]]
        if full.size == 0:
            continue
        drop = at & np.isin(v - v % WEIGHTS[lv - 1], full) & (levels >= lv)
        v = np.concatenate([v[~drop], full])
        order = np.argsort(v, kind="stable")
        v = v[order]
        levels = vector.int_level(v)
    return v


def cover_compact(geometry: BaseGeometry | Mapping[str, Any], level: int, min_level: int = 1,
                  max_cells: int = DEFAULT_MAX_CELLS) -> np.ndarray:
    """A compact mixed-level cover: the level-``level`` cover with full parents merged."""
    return compact(cover_cells(geometry, level, max_cells), min_level)


def _next_code_at(a: int, data_level: int) -> int:
    """The smallest integer code of level ``data_level`` that is ≥ a (or INT_LIMIT)."""
    slots = int_slots(a)
    for lv in range(1, data_level + 1):
        if slots[lv] == 0:  # fill the first absent level and everything finer with digit 0
            base = a - a % WEIGHTS[lv - 1]
            return base + sum(WEIGHTS[k] for k in range(lv, data_level + 1))
    if not any(slots[data_level + 1 :]):
        return a
    step = a - a % WEIGHTS[data_level] + WEIGHTS[data_level]  # past a's level-D cell
    return _next_code_at(step, data_level) if step < 2 * WEIGHTS[0] else step


def ranges(codes: np.ndarray, data_level: int = MAX_LEVEL) -> np.ndarray:
    """Minimal half-open integer ranges [lo, hi) holding exactly the level-``data_level`` codes
    inside the given cells (any levels ≤ data_level): ``WHERE code >= lo AND code < hi``.

    Ranges merge when no level-``data_level`` code lies between them, so a run of siblings and
    their cousins across parent boundaries becomes one range.
    """
    codec2d.check_level(data_level)
    v = compact(codes)
    if v.size == 0:
        return np.empty((0, 2), dtype=np.int64)
    levels = vector.int_level(v)
    if (levels > data_level).any():
        raise GridError(f"cells finer than the data level {data_level} cannot form ranges")
    ends = v + np.array(WEIGHTS, dtype=np.int64)[levels.astype(np.intp)]
    merged: list[list[int]] = [[int(v[0]), int(ends[0])]]
    for lo, hi in zip(v[1:].tolist(), ends[1:].tolist(), strict=True):
        if _next_code_at(merged[-1][1], data_level) >= lo:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return np.array(merged, dtype=np.int64)


def cover_ranges(geometry: BaseGeometry | Mapping[str, Any], level: int,
                 data_level: int = MAX_LEVEL, max_cells: int = DEFAULT_MAX_CELLS) -> np.ndarray:
    """Integer ranges of level-``data_level`` codes in the level-``level`` cover of a geometry."""
    return ranges(cover_cells(geometry, level, max_cells), data_level)


def bbox_ranges(west: float, south: float, east: float, north: float, level: int,
                data_level: int = MAX_LEVEL) -> np.ndarray:
    """Integer ranges for a lon/lat box (a map viewport) at cover level ``level``."""
    if not (west <= east and south <= north):
        raise CoordinateError(f"bbox ({west}, {south}, {east}, {north}) has west > east or "
                              "south > north")
    return cover_ranges(box(west, south, east, north), level, data_level)


def cover3d(geometry: BaseGeometry | Mapping[str, Any], level: int, bottom: float, top: float,
            profile: Profile = "gb", max_cells: int = DEFAULT_MAX_CELLS) -> np.ndarray:
    """3D codes (``S`` array) of the cells covering a geometry between two heights in metres.

    The height range is closed: the layers holding ``bottom`` and ``top`` are both included.
    """
    check_profile(profile)
    if not bottom <= top:
        raise CoordinateError(f"bottom height {bottom} is above top height {top}")
    n_lo, n_hi = (int(n) for n in layer_index(np.array([bottom, top])))
    first = Layer.from_index(n_lo, level, profile)
    last = Layer.from_index(n_hi, level, profile)
    if last.ordinal - first.ordinal + 1 > max_cells:
        raise GridError(f"{last.ordinal - first.ordinal + 1} height layers at level {level}, "
                        f"above max_cells {max_cells}; use a coarser level")
    layers = [first]
    while layers[-1].ordinal < last.ordinal:
        nxt = layers[-1].shifted(1)
        if nxt is None:
            break
        layers.append(nxt)
    cells = cover_cells(geometry, level, max_cells)
    if cells.size * len(layers) > max_cells:
        raise GridError(f"3D cover would have {cells.size * len(layers)} cells, above "
                        f"max_cells {max_cells}")
    code2d = vector.int_to_str(cells).astype(f"S{vector.LEN2D[level]}")
    bytes2d = code2d.view(np.uint8).reshape(cells.size, -1)
    out = []
    for layer in layers:
        chars = np.frombuffer(layer.digits.encode(), dtype=np.uint8)
        out.append(vector.interleave_bytes(bytes2d, np.broadcast_to(chars, (cells.size,
                                                                             chars.size)), level))
    return np.concatenate(out) if out else np.empty(0, dtype="S2")


def expand(codes: np.ndarray, level: int) -> np.ndarray:
    """All level-``level`` descendants of integer codes (the inverse of ``compact``), sorted."""
    codec2d.check_level(level)
    v = sorted_unique(codes)
    levels = vector.int_level(v)
    if (levels > level).any():
        raise GridError(f"cells finer than level {level} cannot be expanded to it")
    done = [v[levels == level]]
    todo = v[levels < level]
    todo_levels = levels[levels < level]
    while todo.size:
        nxt = []
        for lv in np.unique(todo_levels).tolist():
            cells = todo[todo_levels == lv]
            digits = np.arange(1, LEVEL_RADIX[lv + 1] + 1, dtype=np.int64) * WEIGHTS[lv + 1]
            nxt.append((cells[:, None] + digits[None, :]).reshape(-1))
        todo = np.concatenate(nxt)
        todo_levels = vector.int_level(todo)
        done.append(todo[todo_levels == level])
        keep = todo_levels < level
        todo, todo_levels = todo[keep], todo_levels[keep]
    return sorted_unique(np.concatenate(done))
