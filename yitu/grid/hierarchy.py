"""Hierarchy and adjacency of grid cells: parent, children, neighbours, rings and distances.

Everything here works on the exact integer units of ``Cell`` (1 unit = 1/2048″), never on
float round trips. Adjacency uses the regular lattice of each level (spec §3.4): at level L the
cells form a lattice anchored at (0°, 0°) with a *signed* column ``gx`` (0, 1, … east of the
prime meridian; −1, −2, … west of it) and a signed row ``gy`` (0, 1, … north of the equator;
−1, −2, … south of it). The code's hemisphere folding (indices counted away from the origin) is
only a relabelling of that lattice, so offsets here are always **geographic** (east, north).
"""

from __future__ import annotations

import math

from yitu.grid.codec2d import Cell, check_level, decode
from yitu.grid.codec3d import Cell3D, decode3d, interleave
from yitu.grid.constants import (
    HEX,
    LEN2D,
    LEN3D,
    MAX_LAT_UNITS,
    MAX_LEVEL,
    MAX_LON_UNITS,
    ROW_LETTERS,
    SIZE_LAT,
    SIZE_LON,
    SPLIT,
    Z_LEVELS,
)
from yitu.grid.errors import GridError
from yitu.grid.height import C14_SHIFT, GB_RADIX, N_LAYERS, Layer, Profile, check_profile

#: The 8 geographic directions in the order ``neighbours`` returns them, with (dx east, dy north).
DIRECTIONS: dict[str, tuple[int, int]] = {
    "N": (0, 1),
    "NE": (1, 1),
    "E": (1, 0),
    "SE": (1, -1),
    "S": (0, -1),
    "SW": (-1, -1),
    "W": (-1, 0),
    "NW": (-1, 1),
}

#: Mean Earth radius R1 = (2a + b) / 3 of the WGS84 / CGCS2000 ellipsoid, metres (IUGG).
EARTH_MEAN_RADIUS_M = 6_371_008.8

#: Upper bound on the number of cells ``k_ring`` will build, so a typo in k cannot exhaust memory.
MAX_RING_CELLS = 1_000_000


def _suffixes(level: int) -> tuple[str, ...]:
    """The code characters a level-``level`` child appends to its parent, in code (string) order."""
    if level == 1:
        return tuple(f"{zone:02d}{row}" for zone in range(1, 61) for row in ROW_LETTERS)
    cols, rows = SPLIT[level]
    if level in Z_LEVELS:
        return tuple(HEX[d] for d in range(cols * rows))
    return tuple(HEX[i] + HEX[j] for i in range(cols) for j in range(rows))


#: SUFFIXES[l]: the suffixes of the level-l children of any level-(l-1) cell (index 0 unused).
SUFFIXES: tuple[tuple[str, ...], ...] = ((), *(_suffixes(lv) for lv in range(1, MAX_LEVEL + 1)))


# --- parent / children -----------------------------------------------------------------------
def _target_level(own: int, level: int | None, what: str) -> int:
    if level is None:
        if own == 0:
            raise GridError(f"a level-0 (hemisphere) {what} has no parent")
        return own - 1
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= own:
        raise GridError(
            f"parent level must be an integer from 0 to {own} for a level-{own} {what}, "
            f"got {level!r}"
        )
    return level


def parent(code: str, level: int | None = None) -> str:
    """The ancestor of a 2D code at ``level`` (default: one level up): a prefix of the code.

    ``level`` may equal the code's own level (the canonical code itself is returned).

    >>> parent("N50J47539B82")
    'N50J47539B8'
    >>> parent("N50J47539B82", 1)
    'N50J'
    """
    cell = decode(code)
    return cell.code[: LEN2D[_target_level(cell.level, level, "code")]]


def parent3d(code3d: str, level: int | None = None, profile: Profile = "gb") -> str:
    """The ancestor of a 3D code at ``level`` (default: one up): a prefix cut (spec §4.2).

    The code is validated against ``profile``; both profiles nest by prefix.
    """
    cell = decode3d(code3d, profile)
    return cell.code[: LEN3D[_target_level(cell.level, level, "3D code")]]


def children(code: str) -> list[str]:
    """All direct children of a 2D code, in code order; a level-10 code has none.

    Counts: level 0→1: 1320 (60 zones × 22 rows per hemisphere), 1→2: 96, 2→3: 6, 3→4: 150,
    4→5: 225, 5→6: 4, 6→7 … 9→10: 64.
    """
    cell = decode(code)
    if cell.level == MAX_LEVEL:
        return []
    base = cell.code
    return [base + s for s in SUFFIXES[cell.level + 1]]


def _sub_layers(layer: Layer) -> list[Layer]:
    """The layers of the next level inside ``layer``, in digit order, within the 3D domain."""
    level = layer.level + 1
    if layer.profile == "gb":
        radix = GB_RADIX[level]
        values = [layer.value * radix + d for d in range(radix)]
    else:
        bits = C14_SHIFT[layer.level] - C14_SHIFT[level]
        values = [(layer.value << bits) | d for d in range(1 << bits)]
    out = []
    for value in values:
        sub = Layer(layer.profile, level, layer.below, value)
        lo, hi = sub.index_range
        # c14 has no level-10 "−0", and its top coarse layers reach past the ±256° domain.
        if layer.profile == "c14" and sub.below and level == MAX_LEVEL and value == 0:
            continue
        if lo >= -N_LAYERS and hi <= N_LAYERS:
            out.append(sub)
    return out


def children3d(code3d: str, profile: Profile = "gb") -> list[str]:
    """All direct children of a 3D code: the 2D children × the height sub-layers, in code order.

    A GB-profile layer splits into 64, 8, 2, 15, 15, 2, 8, 8, 8, 8 sub-layers at levels 1–10
    (a level-4 cell therefore has 225 × 15 = 3375 3D children); c14 splits by bits (16 at
    levels 4–5). Sub-layers outside the ±256° height domain are left out.
    """
    cell3 = decode3d(code3d, check_profile(profile))
    if cell3.level == MAX_LEVEL:
        return []
    subs = _sub_layers(cell3.layer)
    return [interleave(c, sub) for c in children(cell3.cell.code) for sub in subs]


# --- the signed lattice ----------------------------------------------------------------------
def _lattice(cell: Cell) -> tuple[int, int]:
    w, h = SIZE_LON[cell.level], SIZE_LAT[cell.level]
    gx = cell.x // w if cell.east else -(cell.x // w) - 1
    gy = cell.y // h if cell.north else -(cell.y // h) - 1
    return gx, gy


def _half_counts(level: int) -> tuple[int, int]:
    """Columns per half-world (east or west) and rows per hemisphere at ``level``."""
    return MAX_LON_UNITS // SIZE_LON[level], MAX_LAT_UNITS // SIZE_LAT[level]


def _from_lattice(gx: int, gy: int, level: int) -> Cell | None:
    """The cell at lattice position (gx, gy), wrapping longitude; None past ±88° latitude."""
    half_cols, half_rows = _half_counts(level)
    if not -half_rows <= gy < half_rows:
        return None
    gx = (gx + half_cols) % (2 * half_cols) - half_cols
    east, north = gx >= 0, gy >= 0
    x = (gx if east else -gx - 1) * SIZE_LON[level]
    y = (gy if north else -gy - 1) * SIZE_LAT[level]
    return Cell.from_units(east, north, x, y, level)


def _adjacency_cell(code: str) -> Cell:
    cell = decode(code)
    if cell.level == 0:
        raise GridError(f"neighbours are defined for levels 1-10, {code!r} is a hemisphere")
    return cell


def _check_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GridError(f"{name} must be an integer, got {value!r}")
    return value


def lattice_position(code: str) -> tuple[int, int]:
    """Signed lattice (column, row) of a 2D code at its level: (0, 0) is the cell NE of (0°, 0°).

    Columns grow eastwards from the prime meridian (west of it they are −1, −2, …), rows grow
    northwards from the equator (south of it −1, −2, …).
    """
    return _lattice(_adjacency_cell(code))


def from_lattice(column: int, row: int, level: int) -> str | None:
    """The code at a signed lattice position (inverse of ``lattice_position``).

    Columns wrap around ±180°; rows beyond the ±88° polar limit give None.
    """
    check_level(level)
    cell = _from_lattice(_check_int(column, "column"), _check_int(row, "row"), level)
    return None if cell is None else cell.code


def neighbour(code: str, dx: int, dy: int) -> str | None:
    """The cell ``dx`` columns east (negative: west) and ``dy`` rows north (negative: south).

    Same level as ``code``; wraps at ±180° longitude; None if the target lies beyond ±88°.

    >>> neighbour("S11J47539B82", 1, 0)
    'S11J47539A83'
    """
    cell = _adjacency_cell(code)
    gx, gy = _lattice(cell)
    target = _from_lattice(gx + _check_int(dx, "dx"), gy + _check_int(dy, "dy"), cell.level)
    return None if target is None else target.code


def neighbours(code: str) -> dict[str, str | None]:
    """The 8 surrounding cells as an ordered mapping N, NE, E, SE, S, SW, W, NW → code.

    A direction whose cell would lie beyond the ±88° polar limit maps to None. At level 1 the
    E and W neighbours of a row wrap around the globe (``N60V`` → E ``N01V``).
    """
    cell = _adjacency_cell(code)
    gx, gy = _lattice(cell)
    out: dict[str, str | None] = {}
    for name, (dx, dy) in DIRECTIONS.items():
        target = _from_lattice(gx + dx, gy + dy, cell.level)
        out[name] = None if target is None else target.code
    return out


def k_ring(code: str, k: int) -> list[str]:
    """All cells within Chebyshev lattice distance ``k`` of ``code`` (the cell itself included).

    Order: rows from north to south, each row from west to east (starting at the ring's west
    edge). Longitude wraps at ±180°, and a ring wider than the world lists each cell once; rows
    past the ±88° polar limit are left out. Away from the poles the ring has (2k+1)² cells.
    """
    cell = _adjacency_cell(code)
    k = _check_int(k, "k")
    if k < 0:
        raise GridError(f"k must be >= 0, got {k}")
    gx, gy = _lattice(cell)
    half_cols, half_rows = _half_counts(cell.level)
    n_cols = 2 * half_cols
    if 2 * k + 1 >= n_cols:
        columns = list(range(gx - half_cols, gx - half_cols + n_cols))
    else:
        columns = list(range(gx - k, gx + k + 1))
    rows = range(min(gy + k, half_rows - 1), max(gy - k, -half_rows) - 1, -1)
    if len(columns) * len(rows) > MAX_RING_CELLS:
        raise GridError(
            f"k_ring({code!r}, {k}) would hold {len(columns) * len(rows)} cells, more than the "
            f"limit of {MAX_RING_CELLS}"
        )
    out = []
    for row in rows:
        for col in columns:
            target = _from_lattice(col, row, cell.level)
            if target is not None:
                out.append(target.code)
    return out


def grid_distance(a: str, b: str) -> int:
    """Chebyshev distance in lattice steps between two cells of the same level.

    Longitude takes the shorter way around the globe (``N60V`` and ``N01V`` are 1 apart).
    """
    ca, cb = _adjacency_cell(a), _adjacency_cell(b)
    if ca.level != cb.level:
        raise GridError(
            f"grid_distance needs two codes of the same level, got level {ca.level} ({a!r}) and "
            f"level {cb.level} ({b!r})"
        )
    (ax, ay), (bx, by) = _lattice(ca), _lattice(cb)
    n_cols = 2 * _half_counts(ca.level)[0]
    dx = abs(ax - bx) % n_cols
    return max(min(dx, n_cols - dx), abs(ay - by))


def distance_m(a: str, b: str) -> float:
    """Great-circle distance in metres between the centres of two 2D cells (any levels).

    Haversine on a sphere of the mean radius R1 = 6 371 008.8 m of the CGCS2000 / WGS84
    ellipsoid (the two differ by < 0.1 mm here); the spherical model is off by up to ~0.5 %
    against the ellipsoidal geodesic, which is fine for ranking and proximity, not for survey.
    """
    lon1, lat1 = decode(a).centre
    lon2, lat2 = decode(b).centre
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_MEAN_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


# --- vertical (3D) ---------------------------------------------------------------------------
def vertical_neighbours(code3d: str, profile: Profile = "gb") -> dict[str, str | None]:
    """The 3D cells directly above and below, as ``{"up": code, "down": code}``.

    A direction past the top or the bottom of the ±256° height domain maps to None. Layers step
    in height order, so with the GB profile the layer under the first above-ground layer is the
    first below-ground layer (a0 = 1).
    """
    cell3: Cell3D = decode3d(code3d, check_profile(profile))
    up, down = cell3.up(), cell3.down()
    return {
        "up": None if up is None else up.code,
        "down": None if down is None else down.code,
    }


__all__ = [
    "DIRECTIONS",
    "EARTH_MEAN_RADIUS_M",
    "children",
    "children3d",
    "distance_m",
    "from_lattice",
    "grid_distance",
    "k_ring",
    "lattice_position",
    "neighbour",
    "neighbours",
    "parent",
    "parent3d",
    "vertical_neighbours",
]
