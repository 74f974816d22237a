"""Vectorised codec on numpy arrays, equal to the exact scalar rule on every input.

Hot path (no Python loops, blocks of ``CHUNK`` elements): fold, scale to units in float64,
truncate, then look the codes up in precomputed per-axis tables. A cell's integer code and
string are sums of a longitude part and a latitude part: the integer part is a function of
``units >> 12`` (levels 1–6) plus ``units & 4095`` (levels 7–10); the string part is split
further (level-1 index, units inside the level-1 cell) so its byte tables stay cache-sized.
Decoding is table-driven too: integer codes split by division into groups of levels, strings
are read two characters at a time, and each group is one lookup of packed x, y and flags.

Exactness: a double whose scaled value lies within 1e-6 units of an integer (a cell edge, up to
binary rounding) is re-done with the exact scalar rule (shortest repr decimal, integer floor).
The float error is below 3e-7 units everywhere in range, so every other element is already
exact. Random data has ~2 such elements per million; data snapped to edges costs ~1 µs each.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from yitu.grid import codec2d
from yitu.grid.constants import (
    HEX,
    LEN2D,
    LEVEL_RADIX,
    MAX_LAT_UNITS,
    MAX_LEVEL,
    MAX_LON_UNITS,
    POLAR_LIMIT_DEG,
    ROW_LETTERS,
    SIZE_LAT,
    SIZE_LON,
    SPLIT,
    UNITS_PER_DEGREE,
    Z_LEVELS,
)
from yitu.grid.errors import CoordinateError, InvalidCodeError
from yitu.grid.intcode import INT_LIMIT, WEIGHTS

if TYPE_CHECKING:
    import pyarrow as pa

K = float(UNITS_PER_DEGREE)
_HI_SHIFT = 12  # 4096 units = one level-6 cell: coarser levels depend only on units >> 12
_LO_MASK = (1 << _HI_SHIFT) - 1
_EDGE_EPS = 1e-6  # units; the float error bound is < 3e-7 units for |value| ≤ 180
#: Elements per block: every temporary of a block stays in the CPU cache (about 2× faster
#: than whole-array passes through memory).
CHUNK = 1 << 15


# --------------------------------------------------------------------------------------------
# coordinates → folded units
# --------------------------------------------------------------------------------------------
def _as_float_array(values: npt.ArrayLike, name: str) -> np.ndarray:
    a = np.asarray(values)
    if a.dtype.kind not in "fiu":
        raise CoordinateError(f"{name} must be numeric, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float64).reshape(-1)


def invalid_points(lon: npt.ArrayLike, lat: npt.ArrayLike) -> np.ndarray:
    """Boolean mask of points that cannot be encoded (NaN, out of range, polar cap)."""
    x = _as_float_array(lon, "longitude")
    y = _as_float_array(lat, "latitude")
    _check_same_length(x, y)
    return ~((np.abs(x) <= 180.0) & (np.abs(y) < POLAR_LIMIT_DEG))


def point_error(lon: float, lat: float) -> str:
    """The message the scalar encoder gives for one bad point ('' if it is valid)."""
    try:
        codec2d.lon_units(float(lon))
        codec2d.lat_units(float(lat))
    except CoordinateError as exc:
        return str(exc)
    return ""


def _check_same_length(x: np.ndarray, y: np.ndarray) -> None:
    if x.shape != y.shape:
        raise CoordinateError(
            f"longitude and latitude arrays differ in length ({x.size} and {y.size})"
        )


def _units(values: np.ndarray, scalar: Any) -> np.ndarray:
    """floor(|v|·K) as int64, exact; ``scalar`` is the exact per-value fallback."""
    p = np.abs(values)
    p *= K
    units = p.astype(np.int64)
    p -= units
    p -= 0.5
    np.abs(p, out=p)
    edge = np.flatnonzero(p > 0.5 - _EDGE_EPS)
    for i in edge.tolist():  # rare: values on (or within rounding of) a cell edge
        units[i] = scalar(float(values[i]))[1]
    return units


def _check_points(x: np.ndarray, y: np.ndarray) -> None:
    bad = ~((np.abs(x) <= 180.0) & (np.abs(y) < POLAR_LIMIT_DEG))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CoordinateError(f"point {i} ({x[i]!r}, {y[i]!r}): {point_error(x[i], y[i])}")


def folded_units(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Folded (|lon|, |lat|) units of each point, exactly as the scalar rule; validates."""
    x = _as_float_array(lon, "longitude")
    y = _as_float_array(lat, "latitude")
    _check_same_length(x, y)
    _check_points(x, y)
    return _units(x, codec2d.lon_units), _units(y, codec2d.lat_units)


# --------------------------------------------------------------------------------------------
# per-axis digit tables
# --------------------------------------------------------------------------------------------
def _axis_digits(units: np.ndarray, axis: int, level: int) -> np.ndarray:
    """Per-level index of folded units along an axis (0 = lon, 1 = lat) at ``level``."""
    size = SIZE_LON if axis == 0 else SIZE_LAT
    if level == 1:
        return units // size[1]
    return units // size[level] % SPLIT[level][axis]


def _int_part(units: np.ndarray, axis: int, levels: range, west: bool = False) -> np.ndarray:
    """The integer-code contribution of one axis for the given levels."""
    total = np.zeros(units.shape, dtype=np.int64)
    for lv in levels:
        d = _axis_digits(units, axis, lv)
        w = WEIGHTS[lv]
        if lv == 1:
            if axis == 0:
                zone0 = 29 - d if west else 30 + d  # zone − 1
                total += zone0 * 22 * w
            else:
                total += d * w
        elif lv in Z_LEVELS:
            total += d * (2 * w if axis == 1 else w)
        else:
            total += d * (SPLIT[lv][1] * w if axis == 0 else w)
    return total


def _char_part(units: np.ndarray, axis: int, levels: range, width: int, start: int,
               west: bool = False) -> np.ndarray:
    """Byte contributions of one axis to code characters [start, start+width)."""
    out = np.zeros((units.size, width), dtype=np.uint8)
    hexb = np.frombuffer(HEX.encode(), dtype=np.uint8)
    for lv in levels:
        d = _axis_digits(units, axis, lv)
        pos = LEN2D[lv - 1] - start
        if lv == 1:
            if axis == 0:
                zone = 30 - d if west else 31 + d
                out[:, pos] = ord("0") + zone // 10
                out[:, pos + 1] = ord("0") + zone % 10
            else:
                out[:, pos + 2] = np.frombuffer(ROW_LETTERS.encode(), dtype=np.uint8)[d]
        elif lv in Z_LEVELS:
            out[:, pos] = ord("0") + d if axis == 0 else 2 * d
        else:
            out[:, pos + axis] = hexb[d]
    return out


# The hi part of a folded coordinate (levels 1–6) is split at the level-1 edge: a level-1 index
# (zone or row, with the hemisphere) and the units inside the level-1 cell. All tables then stay
# small (≤ 86 KB) and cache-resident for world-wide data, where one table indexed by
# ``units >> 12`` (several MB) missed the cache on almost every point.
_S1X, _S1Y = SIZE_LON[1], SIZE_LAT[1]
_NZ, _NR = SPLIT[1]  # 30 zones, 22 rows per folded half: west/south rows follow at +30 / +22


class _Tables(NamedTuple):
    """String tables."""

    zone: np.ndarray  # by zone index c1 + 30·west
    row: np.ndarray  # by row index r1 + 22·south
    lon_in: np.ndarray  # by (x mod S1x) >> 12: levels 2–6
    lat_in: np.ndarray  # by (y mod S1y) >> 12
    lon_lo: np.ndarray  # by x & 4095: levels 7–10
    lat_lo: np.ndarray


def _in_units(size1: int) -> np.ndarray:
    return np.arange(size1 >> _HI_SHIFT, dtype=np.int64) << _HI_SHIFT


def _level1_units(n: int, size1: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64) * size1


class _IntTables(NamedTuple):
    lon_hi: np.ndarray  # by (x >> 12) + NXH·west: levels 1–6
    lat_hi: np.ndarray  # by y >> 12: levels 1–6 and the + 1 of every present slot
    lon_lo: np.ndarray  # by x & 4095: levels 7–10
    lat_lo: np.ndarray


_NXH = MAX_LON_UNITS >> _HI_SHIFT


@cache
def _int_tables(level: int) -> _IntTables:
    """Integer tables: for the integer code, one table per axis for levels 1–6 measured faster
    than the split tables below for county data (one gather and no index arithmetic) and as
    fast for world data (the int64 rows are few MB: L2/L3 hits, unlike the string words)."""
    hi, lo_levels = range(1, min(level, 6) + 1), range(7, level + 1)
    xs = np.arange(_NXH, dtype=np.int64) << _HI_SHIFT
    ys = np.arange(MAX_LAT_UNITS >> _HI_SHIFT, dtype=np.int64) << _HI_SHIFT
    lo = np.arange(1 << _HI_SHIFT, dtype=np.int64)
    return _IntTables(
        np.concatenate([_int_part(xs, 0, hi), _int_part(xs, 0, hi, west=True)]),
        _int_part(ys, 1, hi) + sum(WEIGHTS[1 : level + 1]),
        _int_part(lo, 0, lo_levels), _int_part(lo, 1, lo_levels),
    )


@cache
def _char_tables() -> _Tables:
    """Bytes of the level-10 string, a character being lon part + lat part (no carries):
    chars 0–3 as uint32 (zone, row), chars 4–11 (levels 2–6) and 12–19 (7–10) as uint64."""
    l1, mid, lo_levels = range(1, 2), range(2, 7), range(7, 11)
    xs, ys = _level1_units(_NZ, _S1X), _level1_units(_NR, _S1Y)
    zone = np.concatenate([
        _char_part(xs, 0, l1, 4, 0), _char_part(xs, 0, l1, 4, 0, west=True)
    ])
    row_n = _char_part(ys, 1, l1, 4, 0)
    row_s = row_n.copy()
    row_n[:, 0] = ord("N")
    row_s[:, 0] = ord("S")
    lo = np.arange(1 << _HI_SHIFT, dtype=np.int64)

    def u64(part: np.ndarray) -> np.ndarray:
        return part.view(np.uint64).reshape(-1)

    return _Tables(
        zone.view(np.uint32).reshape(-1),
        np.concatenate([row_n, row_s]).view(np.uint32).reshape(-1),
        u64(_char_part(_in_units(_S1X), 0, mid, 8, 4)),
        u64(_char_part(_in_units(_S1Y), 1, mid, 8, 4)),
        u64(_char_part(lo, 0, lo_levels, 8, 12)), u64(_char_part(lo, 1, lo_levels, 8, 12)),
    )


def _split(flip: np.ndarray, u: np.ndarray, size1: int, n1: int) -> tuple[np.ndarray, np.ndarray]:
    """(level-1 index with the hemisphere, (u mod size1) >> 12) of folded units u."""
    i1 = u // size1
    inner = i1 * size1
    np.subtract(u, inner, out=inner)
    inner >>= _HI_SHIFT
    i1 += flip * np.int8(n1)  # int8 temporary: far cheaper than a masked add
    return i1, inner


def _points(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x = _as_float_array(lon, "longitude")
    y = _as_float_array(lat, "latitude")
    _check_same_length(x, y)
    _check_points(x, y)
    return x, y


# --------------------------------------------------------------------------------------------
# encode
# --------------------------------------------------------------------------------------------
def encode_int(lon: npt.ArrayLike, lat: npt.ArrayLike, level: int = MAX_LEVEL) -> np.ndarray:
    """Integer codes (int64) of points at ``level``; equal to ``to_int(encode(lon, lat))``."""
    codec2d.check_level(level)
    lon_a, lat_a = _points(lon, lat)
    out = np.empty(lon_a.size, dtype=np.int64)
    for s in range(0, lon_a.size, CHUNK):
        x, y = lon_a[s : s + CHUNK], lat_a[s : s + CHUNK]
        ux, uy = _units(x, codec2d.lon_units), _units(y, codec2d.lat_units)
        _int_from_units(x < 0, y < 0, ux, uy, level, out[s : s + CHUNK])
    return out


def _int_from_units(west: np.ndarray, south: np.ndarray, x: np.ndarray, y: np.ndarray,
                    level: int, out: np.ndarray | None = None) -> np.ndarray:
    t = _int_tables(level)
    ix = x >> _HI_SHIFT
    ix += west * np.int32(_NXH)  # int32 temporary: far cheaper than a masked add or where
    v = np.add(t.lon_hi.take(ix), t.lat_hi.take(y >> _HI_SHIFT), out=out)
    v += south * np.int64(WEIGHTS[0])
    if level >= 7:
        v += t.lon_lo.take(x & _LO_MASK)
        v += t.lat_lo.take(y & _LO_MASK)
    return v


def int_from_units(east: npt.ArrayLike, north: npt.ArrayLike, x: npt.ArrayLike,
                   y: npt.ArrayLike, level: int) -> np.ndarray:
    """Integer codes of the cells holding folded points (x, y) units with hemisphere flags."""
    codec2d.check_level(level)
    return _int_from_units(
        ~np.asarray(east, dtype=bool), ~np.asarray(north, dtype=bool),
        np.asarray(x, dtype=np.int64), np.asarray(y, dtype=np.int64), level,
    )


def _bytes_from_units(west: np.ndarray, south: np.ndarray, x: np.ndarray, y: np.ndarray,
                      length: int, out: np.ndarray | None = None) -> np.ndarray:
    """(n, length) code bytes; ``out`` (n, 20) receives them in place."""
    t = _char_tables()
    full = np.empty((x.size, 20), dtype=np.uint8) if out is None else out
    zi, xin = _split(west, x, _S1X, _NZ)
    ri, yin = _split(south, y, _S1Y, _NR)
    # chars 0-3 as one uint32 column, 4-11 and 12-19 as unaligned uint64 columns of the rows
    np.add(t.zone.take(zi), t.row.take(ri), out=full.view(np.uint32)[:, 0])
    if length > 4:
        np.add(t.lon_in.take(xin), t.lat_in.take(yin), out=full[:, 4:12].view(np.uint64)[:, 0])
    if length > 12:
        np.add(t.lon_lo.take(x & _LO_MASK), t.lat_lo.take(y & _LO_MASK),
               out=full[:, 12:20].view(np.uint64)[:, 0])
    return full if length == 20 else full[:, :length]


def encode_str(lon: npt.ArrayLike, lat: npt.ArrayLike, level: int = MAX_LEVEL) -> np.ndarray:
    """Code strings of points as a numpy fixed-width bytes array (dtype ``S{len}``)."""
    codec2d.check_level(level)
    lon_a, lat_a = _points(lon, lat)
    length = LEN2D[level]
    out = np.empty((lon_a.size, length), dtype=np.uint8)
    for s in range(0, lon_a.size, CHUNK):
        x, y = lon_a[s : s + CHUNK], lat_a[s : s + CHUNK]
        ux, uy = _units(x, codec2d.lon_units), _units(y, codec2d.lat_units)
        if length == 20:
            _bytes_from_units(x < 0, y < 0, ux, uy, length, out[s : s + CHUNK])
        else:
            out[s : s + CHUNK] = _bytes_from_units(x < 0, y < 0, ux, uy, length)
    return out.view(f"S{length}").reshape(-1)


def to_arrow(codes: np.ndarray) -> pa.StringArray:
    """A pyarrow string array sharing the buffer of a fixed-width ``S`` array (no copy)."""
    import pyarrow as pa

    codes = np.ascontiguousarray(codes)
    width = codes.dtype.itemsize
    n = codes.size
    if np.count_nonzero(codes.view(np.uint8).reshape(n, width)[:, -1] == 0) if n else 0:
        # mixed lengths (null padding): let pyarrow compute offsets
        return pa.array(np.char.decode(codes, "ascii"), type=pa.string())
    big = n * width >= 2**31
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64 if big else np.int32)
    typ = pa.large_string() if big else pa.string()
    return pa.Array.from_buffers(typ, n, [None, pa.py_buffer(offsets), pa.py_buffer(codes)])


def encode_arrow(lon: npt.ArrayLike, lat: npt.ArrayLike, level: int = MAX_LEVEL) -> pa.StringArray:
    """Code strings of points as a pyarrow ``string`` array (needs the ``arrow`` extra)."""
    return to_arrow(encode_str(lon, lat, level))


# --------------------------------------------------------------------------------------------
# decode
# --------------------------------------------------------------------------------------------
class Cells(NamedTuple):
    """Decoded cells, one entry per code: the fields of ``codec2d.Cell`` as arrays."""

    level: np.ndarray  # int8
    east: np.ndarray  # bool
    north: np.ndarray  # bool
    x: np.ndarray  # int64 folded units of the positioning corner
    y: np.ndarray  # int64

    def bbox(self) -> np.ndarray:
        """(n, 4) array of west, south, east, north in degrees."""
        return cells_bbox(self)

    def centre(self) -> np.ndarray:
        """(n, 2) array of lon, lat of cell centres (the midpoints of ``bbox``)."""
        return _cells_extent(self, centre=True)


# cell width and height by level (level 0: the whole folded half-world)
_WIDTH = np.array([2 * MAX_LON_UNITS, *SIZE_LON[1:]], dtype=np.int64)
_HEIGHT = np.array([MAX_LAT_UNITS, *SIZE_LAT[1:]], dtype=np.int64)
_HALF_SIGN = np.array([-0.5, 0.5])  # by east / north flag


def cells_bbox(cells: Cells) -> np.ndarray:
    return _cells_extent(cells, centre=False)


def _cells_extent(cells: Cells, centre: bool) -> np.ndarray:
    """bbox (n, 4) or centre (n, 2), in blocks, with scalar cell sizes when a block has one
    level. The arithmetic is the bbox's: near = u/K, far = (u + size)/K, centre = mean."""
    n = cells.x.size
    out = np.empty((n, 2 if centre else 4))
    for s in range(0, n, CHUNK):
        sl = slice(s, s + CHUNK)
        lv = cells.level[sl]
        lo, hi = int(lv.min()), int(lv.max())
        for axis, (u, pos, sizes) in enumerate(
            ((cells.x, cells.east, _WIDTH), (cells.y, cells.north, _HEIGHT))
        ):
            u = u[sl]
            size = int(sizes[lo]) if lo == hi else sizes.take(lv)
            near = u / K
            far = u + size
            far = np.true_divide(far, K)
            if centre:
                near += far
                np.multiply(near, _HALF_SIGN.take(pos[sl].view(np.uint8)), out=out[sl, axis])
            else:
                p = pos[sl]
                np.negative(far, out=out[sl, axis], where=~p)
                np.copyto(out[sl, axis], near, where=p)
                np.negative(near, out=out[sl, axis + 2], where=~p)
                np.copyto(out[sl, axis + 2], far, where=p)
        if lo == 0:
            level0 = np.flatnonzero(lv == 0) + s
            if centre:
                out[level0, 0] = 0.0
            else:
                out[level0, 0], out[level0, 2] = -180.0, 180.0
    return out


_W = np.array(WEIGHTS, dtype=np.int64)


def int_slots(codes: npt.ArrayLike) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """(hemisphere, [slot_1 … slot_10], level) of integer codes; validates them."""
    v = np.asarray(codes, dtype=np.int64).reshape(-1)
    bad = (v < 0) | (v >= INT_LIMIT)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidCodeError(
            f"integer grid code {int(v[i])} (item {i}) is outside [0, {INT_LIMIT})"
        )
    hemi = v // _W[0]
    rest = v - hemi * _W[0]
    slots = []
    level = np.zeros(v.shape, dtype=np.int8)
    gap = np.zeros(v.shape, dtype=bool)
    for lv in range(1, MAX_LEVEL + 1):
        s = rest // _W[lv]
        rest -= s * _W[lv]
        present = s > 0
        gap |= present & (level != lv - 1)
        level += present
        slots.append(s)
    if gap.any():
        i = int(np.flatnonzero(gap)[0])
        raise InvalidCodeError(
            f"integer grid code {int(v[i])} (item {i}) is malformed: a level is absent but a "
            "finer level is present"
        )
    return hemi, slots, level


# Table-driven integer decoding. v // W1 gives the hemisphere and slot 1 (2·1321 rows); the rest
# splits by division into four groups of levels whose tables (≤ 34 126 rows) hold the packed sum
# x | y << 26 | presence bits << 51 of their levels (x < 2**26, y < 2**25 inside a level-1 cell,
# so the fields never carry). The presence bits name the level, and reject a gap, in one lookup.
_PIECES = ((2, 3), (4, 5), (6, 8), (9, 10))
_X_BITS, _Y_BITS = 26, 25
_P_SHIFT = _X_BITS + _Y_BITS  # presence bit of level l: 1 << (_P_SHIFT + l - 1)
_X_MASK, _Y_MASK = (1 << _X_BITS) - 1, (1 << _Y_BITS) - 1
_LEVEL_OF_BITS = np.full(1 << MAX_LEVEL, -1, dtype=np.int8)  # presence bits → level, −1 = gap
for _lv in range(MAX_LEVEL + 1):
    _LEVEL_OF_BITS[(1 << _lv) - 1] = _lv


def _level_digits(slot: np.ndarray, lv: int) -> tuple[np.ndarray, np.ndarray]:
    """(column, row) inside the parent of 1-based slot values at level ``lv`` (≥ 2)."""
    d = np.maximum(slot - 1, 0)
    if lv in Z_LEVELS:
        return d % 2, d // 2
    rows = SPLIT[lv][1]
    return d // rows, d % rows


class _IntDecode(NamedTuple):
    x1: np.ndarray  # by v // W1: level-1 corner, east, north, level-1 presence bit
    y1: np.ndarray
    east: np.ndarray
    north: np.ndarray
    present1: np.ndarray
    pieces: list[np.ndarray]  # packed sums of the levels in _PIECES


@cache
def _int_decode_tables() -> _IntDecode:
    n1 = LEVEL_RADIX[1] + 1
    q = np.arange(2 * n1, dtype=np.int64)
    slot = q % n1
    d1 = np.maximum(slot - 1, 0)
    zone = d1 // _NR + 1
    on = slot > 0
    x1 = np.where(zone >= 31, zone - 31, 30 - zone) * SIZE_LON[1] * on
    pieces = []
    for first, last in _PIECES:
        r = np.arange(WEIGHTS[first - 1] // WEIGHTS[last], dtype=np.int64) * WEIGHTS[last]
        packed = np.zeros_like(r)
        for lv in range(first, last + 1):
            s = r // WEIGHTS[lv] % (LEVEL_RADIX[lv] + 1)
            i, j = _level_digits(s, lv)
            bit = 1 << (_P_SHIFT + lv - 1)
            packed += (s > 0) * (i * SIZE_LON[lv] + (j * SIZE_LAT[lv] << _X_BITS) + bit)
        pieces.append(packed)
    return _IntDecode(x1, d1 % _NR * SIZE_LAT[1] * on, (zone >= 31) | ~on, q < n1,
                      on.astype(np.int64) << _P_SHIFT, pieces)


def _int_packed(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(v // W1, packed sum of levels 1–10) of in-range integer codes."""
    t = _int_decode_tables()
    q1 = v // WEIGHTS[1]
    r = q1 * WEIGHTS[1]
    np.subtract(v, r, out=r)
    packed = t.present1.take(q1)
    tmp = np.empty_like(r)
    for (_, last), table in zip(_PIECES, t.pieces, strict=True):
        if last < MAX_LEVEL:
            q = r // WEIGHTS[last]
            np.multiply(q, WEIGHTS[last], out=tmp)
            r -= tmp
        else:
            q = r
        packed += table.take(q)
    return q1, packed


def _check_int_range(v: np.ndarray) -> None:
    if v.size and (v.min() < 0 or v.max() >= INT_LIMIT):
        int_slots(v)  # raises, naming the first bad item


def _level_of_packed(packed: np.ndarray) -> np.ndarray:
    return _LEVEL_OF_BITS.take(packed >> _P_SHIFT)


def decode_int(codes: npt.ArrayLike) -> Cells:
    """Decode integer codes (any mix of levels)."""
    v = np.asarray(codes, dtype=np.int64).reshape(-1)
    _check_int_range(v)
    t = _int_decode_tables()
    n = v.size
    cells = Cells(np.empty(n, np.int8), np.empty(n, bool), np.empty(n, bool),
                  np.empty(n, np.int64), np.empty(n, np.int64))
    for s in range(0, n, CHUNK):
        sl = slice(s, s + CHUNK)
        q1, packed = _int_packed(v[sl])
        level = _level_of_packed(packed)
        if level.min() < 0:
            int_slots(v)  # raises, naming the first malformed item
        cells.level[sl] = level
        cells.east[sl] = t.east.take(q1)
        cells.north[sl] = t.north.take(q1)
        x, y = cells.x[sl], cells.y[sl]
        np.bitwise_and(packed, _X_MASK, out=x)
        x += t.x1.take(q1)
        np.right_shift(packed, _X_BITS, out=y)
        y &= _Y_MASK
        y += t.y1.take(q1)
    return cells


# byte → digit value (0–15 for 0-9A-F/a-f), row letters separately; 255 = invalid
_HEX_LUT = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(HEX):
    _HEX_LUT[ord(_c)] = _i
    _HEX_LUT[ord(_c.lower())] = _i
_ROW_LUT = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(ROW_LETTERS):
    _ROW_LUT[ord(_c)] = _i
    _ROW_LUT[ord(_c.lower())] = _i
_LEVEL_OF_LEN = np.full(21, -1, dtype=np.int8)
for _lv, _n in enumerate(LEN2D):
    _LEVEL_OF_LEN[_n] = _lv


def _code_bytes(codes: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(codes)
    if a.size == 0:
        return np.zeros((0, 20), dtype=np.uint8), np.zeros(0, dtype=np.intp)
    if a.dtype.kind == "U" or a.dtype == object:
        a = a.astype("U").reshape(-1)
        try:
            a = np.char.encode(a, "ascii")
        except UnicodeEncodeError:
            i = next(k for k, c in enumerate(a.tolist()) if not c.isascii())
            try:
                codec2d.decode(str(a[i]))  # names the position of the non-ASCII character
            except InvalidCodeError as exc:
                raise InvalidCodeError(f"item {i}: {exc}", exc.position, exc.reason) from None
            raise InvalidCodeError(f"item {i}: grid code {str(a[i])!r} is not ASCII") from None
    if a.dtype.kind != "S":
        raise InvalidCodeError(f"grid codes must be strings, got dtype {a.dtype}")
    a = np.ascontiguousarray(a.reshape(-1))
    width = a.dtype.itemsize
    if width > 20:
        lengths = np.char.str_len(a)
        i = int(np.argmax(lengths > 20)) if (lengths > 20).any() else -1
        if i >= 0:
            raise InvalidCodeError(f"grid code {a[i]!r} (item {i}) is longer than 20 characters")
        a = a.astype("S20")
        width = 20
    b = np.zeros((a.size, 20), dtype=np.uint8)
    b[:, :width] = a.view(np.uint8).reshape(a.size, width)
    return b, np.count_nonzero(b, axis=1)


def decode_str(codes: npt.ArrayLike) -> Cells:
    """Decode code strings (numpy ``S``/``U`` arrays or sequences; any mix of levels)."""
    a = np.asarray(codes).reshape(-1)
    if a.size <= CHUNK:
        return _decode_str(a)
    cells = Cells(np.empty(a.size, np.int8), np.empty(a.size, bool), np.empty(a.size, bool),
                  np.empty(a.size, np.int64), np.empty(a.size, np.int64))
    for s in range(0, a.size, CHUNK):
        try:
            part = _decode_str(a[s : s + CHUNK])
        except InvalidCodeError as exc:
            if s == 0:
                raise
            # restate the item number in the whole array
            i = int(str(exc).split(":", 1)[0].removeprefix("item ")) + s
            raise InvalidCodeError(
                f"item {i}:{str(exc).split(':', 1)[1]}", exc.position, exc.reason
            ) from None
        for field, value in zip(cells, part, strict=True):
            field[s : s + CHUNK] = value
    return cells


def _decode_str_checked(codes: np.ndarray) -> Cells:
    """The validating decoder: slower, but it names the first fault exactly."""
    b, lengths = _code_bytes(codes)
    level = _LEVEL_OF_LEN[lengths]
    problems = level < 0
    hemi = b[:, 0]
    problems |= (hemi != ord("N")) & (hemi != ord("S")) & (hemi != ord("n")) & (hemi != ord("s"))
    zone = (b[:, 1].astype(np.int64) - 48) * 10 + (b[:, 2].astype(np.int64) - 48)
    digits_ok = (b[:, 1] >= 48) & (b[:, 1] <= 57) & (b[:, 2] >= 48) & (b[:, 2] <= 57)
    has1 = level >= 1
    problems |= has1 & ~(digits_ok & (zone >= 1) & (zone <= 60))
    row = _ROW_LUT[b[:, 3]].astype(np.int64)
    problems |= has1 & (row == 255)
    east = (zone >= 31) | ~has1
    x = np.where(has1, np.where(east, zone - 31, 30 - zone), 0) * SIZE_LON[1]
    y = np.where(has1, row, 0) * SIZE_LAT[1]
    hexv = _HEX_LUT[b].astype(np.int64)
    for lv in range(2, MAX_LEVEL + 1):
        present = level >= lv
        pos = LEN2D[lv - 1]
        cols, rows = SPLIT[lv]
        if lv in Z_LEVELS:
            d = hexv[:, pos]
            problems |= present & (d >= cols * rows)
            i, j = d % 2, d // 2
        else:
            i, j = hexv[:, pos], hexv[:, pos + 1]
            problems |= present & ((i >= cols) | (j >= rows))
        x += np.where(present, i, 0) * SIZE_LON[lv]
        y += np.where(present, j, 0) * SIZE_LAT[lv]
    if problems.any():
        i = int(np.flatnonzero(problems)[0])
        code = bytes(b[i][b[i] != 0]).decode("ascii", "replace")
        try:
            codec2d.decode(code)
        except InvalidCodeError as exc:
            raise InvalidCodeError(f"item {i}: {exc}", exc.position, exc.reason) from None
        raise InvalidCodeError(f"item {i}: invalid grid code {code!r}")
    north = (hemi == ord("N")) | (hemi == ord("n"))
    return Cells(level, east, north, x, y)


# Table-driven string decoding: each pair of characters, read as one uint16, is looked up in a
# 65 536-row table of its position (only the rows of valid characters are ever touched).
# Characters 0–3 add up to south << 12 | zone·22 + row (the index of the level-1 tables);
# characters 4–19 add up to the packed x | y << 26 of levels 2–10. Invalid characters add to a
# count in the high bits, so one max() validates a block; any fault re-runs the checked decoder,
# which raises the exact error.
_BAD_HI = 1 << 13
_BAD_P = 1 << _P_SHIFT
_Y_INVALID = 1 << 40  # level-1 y of an invalid zone: one max() finds it


def _position_values(p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, bad) of each byte value as character ``p`` (≥ 4) of a code."""
    lv = next(k for k in range(2, MAX_LEVEL + 1) if p < LEN2D[k])
    first = LEN2D[lv - 1]
    cols, rows = SPLIT[lv]
    d = _HEX_LUT.astype(np.int64)
    if lv in Z_LEVELS:
        bad = d >= cols * rows
        i, j = d % 2, d // 2
    elif p == first:
        bad = d >= cols
        i, j = d, d * 0
    else:
        bad = d >= rows
        i, j = d * 0, d
    return i * SIZE_LON[lv] * ~bad, j * SIZE_LAT[lv] * ~bad, bad


@cache
def _pair_table(k: int, last_alone: bool) -> np.ndarray:
    """Packed contributions of characters 2k, 2k+1 (``last_alone``: 2k+1 is the end, NUL)."""
    u = np.arange(1 << 16, dtype=np.int64)
    lo, hi = u & 255, u >> 8
    if k < 2:  # hemisphere | zone tens, zone ones | row letter
        if k == 0:
            up = lo & ~32  # ASCII upper case
            south = up == ord("S")
            bad = (up != ord("N")) & ~south
            if last_alone:
                return np.where(bad | (hi != 0), _BAD_HI, south << 12)
            bad |= (hi < 48) | (hi > 57)
            value = (south << 12) + (hi - 48) * 10 * _NR
        else:
            row = _ROW_LUT.astype(np.int64)[hi]
            bad = (lo < 48) | (lo > 57) | (row == 255)
            value = (lo - 48) * _NR + row
        return np.where(bad, _BAD_HI, value)
    x0, y0, bad0 = _position_values(2 * k)
    if last_alone:
        x1, y1, bad1 = np.zeros(256, np.int64), np.zeros(256, np.int64), np.arange(256) != 0
    else:
        x1, y1, bad1 = _position_values(2 * k + 1)
    bad = bad0[lo] | bad1[hi]
    value = x0[lo] + x1[hi] + (y0[lo] + y1[hi] << _X_BITS)
    return np.where(bad, _BAD_P, value)


class _StrDecode(NamedTuple):
    x1: np.ndarray  # by south << 12 | zone·22 + row
    y1: np.ndarray
    east: np.ndarray
    north: np.ndarray


@cache
def _str_decode_tables() -> _StrDecode:
    i = np.arange(1 << 13, dtype=np.int64)
    south, zone, row = i >> 12, (i & 4095) // _NR, (i & 4095) % _NR
    valid = (zone >= 1) & (zone <= 60)
    east = zone >= 31
    x1 = np.where(east, zone - 31, 30 - zone) * SIZE_LON[1]
    return _StrDecode(x1, np.where(valid, row * SIZE_LAT[1], _Y_INVALID), east, south == 0)


def _decode_level(u: np.ndarray, level: int) -> tuple[np.ndarray, ...] | None:
    """(east, north, x, y) of codes all of ``level`` (uint16 pairs of their bytes), or None if
    any code is invalid."""
    length = LEN2D[level]
    pairs = (length + 1) // 2
    alone = length % 2 == 1

    def table(k: int) -> np.ndarray:
        return _pair_table(k, alone and k == pairs - 1)

    hi = table(0).take(u[:, 0])
    if level == 0:
        if hi.max() >= _BAD_HI:
            return None
        m = u.shape[0]
        return (np.ones(m, bool), hi < (1 << 12), np.zeros(m, np.int64), np.zeros(m, np.int64))
    hi += table(1).take(u[:, 1])
    if hi.max() >= _BAD_HI:
        return None
    t = _str_decode_tables()
    if pairs > 2:
        packed = table(2).take(u[:, 2])
        for k in range(3, pairs):
            packed += table(k).take(u[:, k])
        if packed.max() >= _BAD_P:
            return None
        x = packed & _X_MASK
        packed >>= _X_BITS
        y = packed
        x += t.x1.take(hi)
        y += t.y1.take(hi)
    else:
        x, y = t.x1.take(hi), t.y1.take(hi)
    if y.max() >= _Y_INVALID:
        return None
    return t.east.take(hi), t.north.take(hi), x, y


def _decode_str(codes: np.ndarray) -> Cells:
    a = codes
    width = a.dtype.itemsize
    if a.dtype.kind != "S" or not 0 < width <= 20 or a.size == 0:
        return _decode_str_checked(a)
    b = np.ascontiguousarray(a).view(np.uint8).reshape(a.size, width)
    level_w = int(_LEVEL_OF_LEN[width])
    if level_w >= 0 and b[:, -1].all():  # every code fills the width: one level
        levels = None
        groups = [level_w]
    else:
        levels = _LEVEL_OF_LEN[np.count_nonzero(b, axis=1)]
        groups = np.flatnonzero(np.bincount(levels + 1, minlength=12)[1:]).tolist()
        if levels.min() < 0:
            return _decode_str_checked(a)
    if width % 2:
        b = np.concatenate([b, np.zeros((a.size, 1), np.uint8)], axis=1)
    u = b.view(np.uint16)
    if len(groups) == 1:
        lv = groups[0]
        got = _decode_level(u, lv)
        if got is None:
            return _decode_str_checked(a)
        return Cells(np.full(a.size, lv, np.int8), *got)
    cells = Cells(levels, np.empty(a.size, bool), np.empty(a.size, bool),
                  np.empty(a.size, np.int64), np.empty(a.size, np.int64))
    for lv in groups:
        rows = np.flatnonzero(levels == lv)
        got = _decode_level(u[rows], lv)
        if got is None:
            return _decode_str_checked(a)
        for field, value in zip(cells[1:], got, strict=True):
            field[rows] = value
    return cells


# --------------------------------------------------------------------------------------------
# conversions and hierarchy on integer codes
# --------------------------------------------------------------------------------------------
def str_to_int(codes: npt.ArrayLike) -> np.ndarray:
    """Integer codes of code strings (any mix of levels)."""
    return cells_to_int(decode_str(codes))


def cells_to_int(cells: Cells) -> np.ndarray:
    out = np.where(cells.north, 0, _W[0]).astype(np.int64)
    for lv in range(1, MAX_LEVEL + 1):
        sel = cells.level == lv
        if sel.any():
            out[sel] = _int_from_units(
                ~cells.east[sel], ~cells.north[sel], cells.x[sel], cells.y[sel], lv
            )
    return out


def cells_to_str(cells: Cells) -> np.ndarray:
    """Code strings (``S20``, null-padded for coarser levels) of decoded cells."""
    b = _bytes_from_units(~cells.east, ~cells.north, cells.x, cells.y, 20)
    b &= _KEEP[cells.level]  # NUL past each code's length
    return b.view("S20").reshape(-1)


_KEEP = np.where(np.arange(20)[None, :] < np.array(LEN2D)[:, None], 255, 0).astype(np.uint8)


def int_to_str(codes: npt.ArrayLike) -> np.ndarray:
    """Code strings of integer codes."""
    return cells_to_str(decode_int(codes))


def int_level(codes: npt.ArrayLike) -> np.ndarray:
    """Level (int8) of each integer code; validates them."""
    v = np.asarray(codes, dtype=np.int64).reshape(-1)
    _check_int_range(v)
    out = np.empty(v.size, dtype=np.int8)
    for s in range(0, v.size, CHUNK):
        level = _level_of_packed(_int_packed(v[s : s + CHUNK])[1])
        if level.min() < 0:
            int_slots(v)  # raises, naming the first malformed item
        out[s : s + CHUNK] = level
    return out


def int_parent(codes: npt.ArrayLike, level: int) -> np.ndarray:
    """Ancestors at ``level`` of integer codes (each code must be at ``level`` or finer)."""
    codec2d.check_level(level, 0)
    v = np.asarray(codes, dtype=np.int64).reshape(-1)
    own = int_level(v)
    if (own < level).any():
        i = int(np.flatnonzero(own < level)[0])
        raise InvalidCodeError(f"item {i}: a level-{int(own[i])} code has no level-{level} parent")
    return v - v % _W[level]


def int_descendant_range(codes: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Half-open ranges [lo, hi) holding each cell and all its descendants (for SQL BETWEEN)."""
    v = np.asarray(codes, dtype=np.int64).reshape(-1)
    return v, v + _W[int_level(v).astype(np.intp)]


def int_children_range(codes: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """First and last direct child of each cell (inclusive; children are evenly spaced)."""
    v = np.asarray(codes, dtype=np.int64).reshape(-1)
    level = int_level(v).astype(np.intp)
    if (level >= MAX_LEVEL).any():
        i = int(np.flatnonzero(level >= MAX_LEVEL)[0])
        raise InvalidCodeError(f"item {i}: a level-10 cell has no children")
    w = _W[level + 1]
    return v + w, v + _RADIX[level + 1] * w


_RADIX = np.array(LEVEL_RADIX, dtype=np.int64)


# --------------------------------------------------------------------------------------------
# 3D
# --------------------------------------------------------------------------------------------
def _height_chars(n: np.ndarray, level: int, profile: str) -> np.ndarray:
    """(len(n), chars) bytes of the height part a0…a_level of level-10 layer indices n."""
    from yitu.grid.height import C14_SHIFT, GB_RADIX, GB_SPAN, HEIGHT_CHARS, N_LAYERS

    width = sum(HEIGHT_CHARS[: level + 1])
    out = np.empty((n.size, width), dtype=np.uint8)
    below = n < 0
    out[:, 0] = ord("0") + below
    hexb = np.frombuffer(HEX.encode(), dtype=np.uint8)
    if profile == "gb":
        u = n + below * N_LAYERS
        digits = [u // GB_SPAN[lv] % GB_RADIX[lv] for lv in range(1, level + 1)]
    else:
        m = np.abs(n)
        digits = [
            (m >> C14_SHIFT[lv]) & ((1 << (C14_SHIFT[lv - 1] - C14_SHIFT[lv])) - 1)
            for lv in range(1, level + 1)
        ]
    out[:, 1] = ord("0") + digits[0] // 10
    out[:, 2] = ord("0") + digits[0] % 10
    for lv in range(2, level + 1):
        out[:, lv + 1] = hexb[digits[lv - 1]]
    return out


def encode3d_str(lon: npt.ArrayLike, lat: npt.ArrayLike, height: npt.ArrayLike,
                 level: int = MAX_LEVEL, profile: str = "gb") -> np.ndarray:
    """3D code strings (``S{len}``) of points with geodetic heights in metres."""
    from yitu.grid.height import check_profile, layer_index

    check_profile(profile)
    h = np.ascontiguousarray(height, dtype=np.float64).reshape(-1)
    code2d = encode_str(lon, lat, level).view(np.uint8).reshape(-1, LEN2D[level])
    if h.size != code2d.shape[0]:
        raise CoordinateError(f"height array has {h.size} items, points have {code2d.shape[0]}")
    return interleave_bytes(code2d, _height_chars(layer_index(h), level, profile), level)


@cache
def _interleave_columns(level: int) -> tuple[list[int], list[int]]:
    """Columns of the 3D code taken by the 2D characters and by the height characters."""
    from yitu.grid.codec3d import split3d
    from yitu.grid.constants import LEN3D

    template = "".join(chr(0x4E00 + i) for i in range(LEN3D[level]))  # distinct characters
    parts2d, heights, positions = split3d(template)
    pos2d = [template.index(ch) for ch in parts2d]
    posh = [p - 1 + k for p, hc in zip(positions, heights, strict=True) for k in range(len(hc))]
    return pos2d, posh


def interleave_bytes(code2d: np.ndarray, height_chars: np.ndarray, level: int) -> np.ndarray:
    """3D code strings from (n, len2d) code bytes and (n, lenh) height-part bytes."""
    from yitu.grid.constants import LEN3D

    pos2d, posh = _interleave_columns(level)
    out = np.empty((code2d.shape[0], LEN3D[level]), dtype=np.uint8)
    out[:, pos2d] = code2d
    out[:, posh] = height_chars
    return out.view(f"S{LEN3D[level]}").reshape(-1)


def layer_chars(n: npt.ArrayLike, level: int, profile: str = "gb") -> np.ndarray:
    """(len(n), chars) bytes of the height part at ``level`` for level-10 layer indices n."""
    return _height_chars(np.asarray(n, dtype=np.int64).reshape(-1), level, profile)


def layer_indices(height: npt.ArrayLike) -> np.ndarray:
    """Level-10 height layer index of each height (see ``yitu.grid.height.layer_index``)."""
    from yitu.grid.height import layer_index

    return layer_index(np.asarray(height, dtype=np.float64).reshape(-1))
