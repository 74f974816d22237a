"""Property tests of the 2D/3D codec: geometry, hierarchy, integer form, symmetry, heights.

Example counts are kept moderate so the whole file runs in a few seconds.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from yitu.grid import vector
from yitu.grid.codec2d import Cell, decode, encode
from yitu.grid.codec3d import cell3d, decode3d, encode3d
from yitu.grid.constants import (
    LEN2D,
    LEN3D,
    MAX_LAT_UNITS,
    MAX_LEVEL,
    MAX_LON_UNITS,
    SIZE_LAT,
    SIZE_LON,
    UNITS_PER_DEGREE,
)
from yitu.grid.errors import InvalidCodeError
from yitu.grid.height import H_MAX, H_MIN, N_LAYERS, Layer, bottom, layer_index
from yitu.grid.intcode import (
    WEIGHTS,
    from_int,
    int_children,
    int_descendant_range,
    int_level,
    int_parent,
    to_int,
)

K = UNITS_PER_DEGREE
lons = st.floats(min_value=-180, max_value=180, allow_nan=False)
lats = st.floats(min_value=-88, max_value=88, exclude_min=True, exclude_max=True)
levels = st.integers(min_value=1, max_value=MAX_LEVEL)
levels0 = st.integers(min_value=0, max_value=MAX_LEVEL)
profiles = st.sampled_from(["gb", "c14"])
heights = st.floats(min_value=H_MIN, max_value=H_MAX, exclude_max=True)
#: Heights where people and aircraft are: dense sampling of the common range.
near_heights = st.floats(min_value=-12_000, max_value=40_000)


@st.composite
def cells(draw: st.DrawFn, level: st.SearchStrategy[int] = levels0) -> Cell:
    """A uniformly random cell of any hemisphere at a drawn level."""
    return Cell.from_units(
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.integers(0, MAX_LON_UNITS - 1)),
        draw(st.integers(0, MAX_LAT_UNITS - 1)),
        draw(level),
    )


def exact_units(value: float) -> Fraction:
    """|value| in units, exactly, from the shortest repr decimal (§2.4)."""
    return abs(Fraction(Decimal(repr(value)))) * K


# --------------------------------------------------------------------------------------------
# 2D geometry
# --------------------------------------------------------------------------------------------
@settings(max_examples=400, deadline=None)
@given(cells(levels))
def test_centre_reencodes_to_the_cell(cell: Cell) -> None:
    lon, lat = cell.centre
    assert encode(lon, lat, cell.level) == cell.code
    west, south, east, north = cell.bbox
    assert west < lon < east
    assert south < lat < north


@settings(max_examples=400, deadline=None)
@given(lons, lats, levels)
def test_point_lies_in_its_cell(lon: float, lat: float, level: int) -> None:
    cell = decode(encode(lon, lat, level))
    west, south, east, north = cell.bbox
    # in floating point the box is closed on both sides
    assert west <= lon <= east
    assert south <= lat <= north
    # exactly, it is closed on the origin side and open on the far side (fold, then floor)
    ux, uy = exact_units(lon), exact_units(lat)
    if ux == MAX_LON_UNITS:  # ±180 is clamped into the last column
        ux -= 1
    assert cell.x <= ux < cell.x + SIZE_LON[level]
    assert cell.y <= uy < cell.y + SIZE_LAT[level]
    assert cell.east == (lon >= 0)
    assert cell.north == (lat >= 0)


@st.composite
def decimal_edges(draw: st.DrawFn) -> tuple[int, bool, bool, int, int]:
    """(level, east, north, ex, ey): a cell corner in units that is a finite decimal in degrees.

    K = 2¹⁵·3²·5², so a multiple of 9 units is an exact decimal number of degrees.
    """
    level = draw(levels)
    w, h = 9 * SIZE_LON[level], 9 * SIZE_LAT[level]
    ex = w * draw(st.integers(0, (MAX_LON_UNITS - 1) // w))
    ey = h * draw(st.integers(0, (MAX_LAT_UNITS - 1) // h))
    return level, draw(st.booleans()), draw(st.booleans()), ex, ey


@settings(max_examples=300, deadline=None)
@given(decimal_edges())
def test_edges_belong_to_the_cell_beyond(edge: tuple[int, bool, bool, int, int]) -> None:
    """A point exactly on a cell edge (as an exact decimal, or as the double a user types) goes
    to the cell on the far side of the edge from the origin: cells are closed on the origin side.
    """
    level, east, north, ex, ey = edge
    lon = Decimal(ex if east else -ex) / K
    lat = Decimal(ey if north else -ey) / K
    assert Fraction(lon) == Fraction(ex if east else -ex, K)
    assert Fraction(lat) == Fraction(ey if north else -ey, K)
    # lon = 0 and lat = 0 (also -0) belong to the east / north (§2.1, §2.3)
    want = Cell(level, east or ex == 0, north or ey == 0, ex, ey)
    assert Cell.from_point(lon, lat, level) == want
    # the double a user types: same answer whenever its shortest repr is that decimal
    typed = Decimal(repr(float(lon))) == lon and Decimal(repr(float(lat))) == lat
    if typed:
        assert encode(float(lon), float(lat), level) == want.code
    # ... and not to the cell on the origin side of it
    if ex > 0:
        inner = Cell.from_units(want.east, want.north, ex - 1, ey, level)
        assert inner.x == ex - SIZE_LON[level]
        assert not inner.contains_point(lon, lat)
        assert not typed or not inner.contains_point(float(lon), float(lat))
    if ey > 0:
        inner = Cell.from_units(want.east, want.north, ex, ey - 1, level)
        assert inner.y == ey - SIZE_LAT[level]
        assert not inner.contains_point(lon, lat)
        assert not typed or not inner.contains_point(float(lon), float(lat))


@settings(max_examples=300, deadline=None)
@given(lons, lats)
def test_parent_is_prefix(lon: float, lat: float) -> None:
    full = encode(lon, lat, MAX_LEVEL)
    for level in range(1, MAX_LEVEL):
        code = encode(lon, lat, level)
        assert code == full[: LEN2D[level]]
        assert len(code) == LEN2D[level]
        w, s, e, n = decode(code).bbox
        cw, cs, ce, cn = decode(full[: LEN2D[level + 1]]).bbox
        assert w <= cw and ce <= e and s <= cs and cn <= n


@settings(max_examples=400, deadline=None)
@given(lons, lats, levels)
def test_mirror_symmetry(lon: float, lat: float, level: int) -> None:
    """Mirrored points share every character from position 4 (row) on; zone z ↔ 61 − z."""
    assume(lon != 0 and lat != 0)
    base = encode(lon, lat, level)
    for mlon, mlat in ((-lon, lat), (lon, -lat), (-lon, -lat)):
        m = encode(mlon, mlat, level)
        assert m[3:] == base[3:]
        zone = int(base[1:3])
        assert int(m[1:3]) == (61 - zone if mlon != lon else zone)
        assert m[0] == (base[0] if mlat == lat else {"N": "S", "S": "N"}[base[0]])


# --------------------------------------------------------------------------------------------
# integer form
# --------------------------------------------------------------------------------------------
@settings(max_examples=500, deadline=None)
@given(cells())
def test_int_roundtrip_every_level(cell: Cell) -> None:
    code = cell.code
    v = to_int(code)
    assert 0 <= v < 2**63
    assert from_int(v) == code
    assert int_level(v) == cell.level
    assert to_int(code.lower()) == v


@settings(max_examples=200, deadline=None)
@given(st.lists(cells(), min_size=2, max_size=40))
def test_int_order_equals_string_order(sample: list[Cell]) -> None:
    codes = [c.code for c in sample]
    ints = {c: to_int(c) for c in codes}
    assert sorted(codes) == sorted(codes, key=ints.__getitem__)
    a, b = codes[0], codes[1]
    assert (a < b) == (ints[a] < ints[b])
    assert (a == b) == (ints[a] == ints[b])


@settings(max_examples=300, deadline=None)
@given(cells(st.integers(0, MAX_LEVEL - 1)), st.data())
def test_descendant_range_holds_exactly_the_descendants(cell: Cell, data: st.DataObject) -> None:
    v = to_int(cell.code)
    lo, hi = int_descendant_range(v)
    assert (lo, hi) == (v, v + WEIGHTS[cell.level])
    for child in int_children(v):
        assert lo < child < hi
        assert int_parent(child) == v
    # a random descendant at a random finer level, from a point inside the cell
    deeper = data.draw(st.integers(cell.level + 1, MAX_LEVEL))
    x = data.draw(st.integers(cell.x, cell.x + cell.width_units - 1).filter(
        lambda u: u < MAX_LON_UNITS))
    y = data.draw(st.integers(cell.y, min(cell.y + cell.height_units, MAX_LAT_UNITS) - 1))
    d = to_int(Cell.from_units(cell.east, cell.north, x, y, deeper).code)
    assert lo < d < hi
    assert int_parent(d, cell.level) == v
    # the ancestors and a neighbouring cell (with its descendants) are outside
    if cell.level > 0:
        assert not lo <= int_parent(v) < hi
        nx = cell.x + cell.width_units
        if nx < MAX_LON_UNITS:
            n = Cell.from_units(cell.east, cell.north, nx, cell.y, cell.level)
            nd = Cell.from_units(cell.east, cell.north, nx, cell.y, deeper)
            assert not lo <= to_int(n.code) < hi
            assert not lo <= to_int(nd.code) < hi
        other_hemisphere = Cell.from_units(cell.east, not cell.north, cell.x, cell.y, deeper)
        assert not lo <= to_int(other_hemisphere.code) < hi


@settings(max_examples=200, deadline=None)
@given(cells(st.integers(0, MAX_LEVEL - 1)))
def test_children_are_the_one_level_finer_codes(cell: Cell) -> None:
    kids = [from_int(k) for k in int_children(to_int(cell.code))]
    assert kids == sorted(kids)
    assert len(set(kids)) == len(kids)
    assert all(k.startswith(cell.code) and len(k) == LEN2D[cell.level + 1] for k in kids)


# --------------------------------------------------------------------------------------------
# vectorised == scalar
# --------------------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(lons, lats), min_size=1, max_size=30), levels)
def test_vector_equals_scalar_random(points: list[tuple[float, float]], level: int) -> None:
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    want = [encode(a, b, level) for a, b in points]
    assert [s.decode() for s in vector.encode_str(lon, lat, level)] == want
    assert vector.encode_int(lon, lat, level).tolist() == [to_int(c) for c in want]


def _edge_values(rng: np.random.Generator, n: int, limit: int) -> np.ndarray:
    """Values on (or one ulp either side of) cell edges, of both signs."""
    k = 3600 * 2048
    parts = [
        rng.integers(-limit * 1000, limit * 1000, n) / 1000,  # ≤ 3 decimals (111.675, 116.3)
        rng.integers(-limit * 10, limit * 10, n) / 10,
        rng.integers(-limit, limit + 1, n).astype(np.float64),  # whole degrees
        rng.integers(-limit * 2, limit * 2, n) / 2,  # level-2 edges (30′)
        rng.integers(-limit * 6, limit * 6, n) / 6,  # level-3 latitude edges (10′)
        rng.integers(-limit * 60, limit * 60, n) / 60,  # level-4 edges (1′)
        rng.integers(-limit * 900, limit * 900, n) / 900,  # level-5 edges (4″)
        rng.integers(-limit * 3600 * 4, limit * 3600 * 4, n) / 3600 / 4,  # level-7 (1/4″)
        rng.integers(-limit * 3600 * 32, limit * 3600 * 32, n) / (3600 * 32),  # level-8
        rng.integers(-limit * k, limit * k, n) / k,  # level-10 (1/2048″)
        rng.integers(-limit * k, limit * k, n) / 3600 / 2048,
        np.round(rng.uniform(-limit, limit, n), 6),
        np.array([0.0, -0.0, 6.0, -6.0, 12.0, -174.0, 174.0, 4.0, -4.0, 84.0, -84.0]),
    ]
    if limit == 180:
        parts.append(np.array([180.0, -180.0, 179.99999999999997, -179.99999999999997]))
    else:
        parts.append(np.array([87.99999999999999, -87.99999999999999]))
    v = np.concatenate(parts)
    v = np.concatenate([v, np.nextafter(v, np.inf), np.nextafter(v, -np.inf)])
    return v[np.abs(v) <= 180] if limit == 180 else v[np.abs(v) < 88]


def test_vector_equals_scalar_on_cell_edges() -> None:
    rng = np.random.default_rng(20261126)
    lon = _edge_values(rng, 400, 180)
    lat = _edge_values(rng, 400, 87)
    n = min(lon.size, lat.size)
    # every value against a random partner, and the two special axes against each other
    lon = np.concatenate([rng.permutation(lon)[:n], lon[:n]])
    lat = np.concatenate([rng.permutation(lat)[:n], rng.permutation(lat)[:n]])
    strings = vector.encode_str(lon, lat, MAX_LEVEL)
    ints = vector.encode_int(lon, lat, 7)
    mismatches = []
    for i in range(lon.size):
        a, b = float(lon[i]), float(lat[i])
        want = encode(a, b, MAX_LEVEL)
        if strings[i].decode() != want or int(ints[i]) != to_int(want[: LEN2D[7]]):
            mismatches.append((a, b, want, strings[i].decode()))
    assert not mismatches, f"{len(mismatches)} vectorised/scalar mismatches, e.g. {mismatches[:5]}"


def test_vector_equals_scalar_on_known_edge_points() -> None:
    points = [
        (111.675, 32.385), (116.3, 39.9), (-6.0, 10.3), (0.0, 0.0), (-0.0, -0.0),
        (180.0, 87.5), (-180.0, -87.5), (-116.31260277777777, -39.993161111111114),
        (0.1 + 0.2, 0.7 * 3), (1e-300, -1e-300), (5e-324, -5e-324),
    ]
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    for level in range(1, MAX_LEVEL + 1):
        got = [s.decode() for s in vector.encode_str(lon, lat, level)]
        assert got == [encode(a, b, level) for a, b in points]


# --------------------------------------------------------------------------------------------
# heights and 3D
# --------------------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.one_of(heights, near_heights), profiles)
def test_height_lies_in_its_layer_every_level(h: float, profile: str) -> None:
    n = int(layer_index(h))
    assert bottom(n) <= h < bottom(n + 1)
    for level in range(1, MAX_LEVEL + 1):
        layer = Layer.from_height(h, level, profile)  # type: ignore[arg-type]
        assert layer.bottom <= h < layer.top
        lo, hi = layer.index_range
        assert lo <= n < hi


@settings(max_examples=300, deadline=None)
@given(st.integers(-N_LAYERS + 1, N_LAYERS - 1))
def test_height_exactly_at_layer_bottom_and_one_ulp_below(n: int) -> None:
    h = float(bottom(n))
    assert int(layer_index(h)) == n
    below = float(np.nextafter(h, -np.inf))
    assert int(layer_index(below)) == n - 1
    above = float(np.nextafter(h, np.inf))
    assert int(layer_index(above)) == n


def test_height_domain_ends() -> None:
    assert int(layer_index(H_MIN)) == -N_LAYERS
    assert int(layer_index(float(np.nextafter(H_MAX, 0)))) == N_LAYERS - 1
    assert int(layer_index(0.0)) == 0
    assert int(layer_index(-0.0)) == 0
    assert int(layer_index(float(np.nextafter(0.0, -1)))) == -1


@settings(max_examples=300, deadline=None)
@given(st.one_of(heights, near_heights), levels, profiles)
def test_3d_roundtrip(h: float, level: int, profile: str) -> None:
    """Every code the encoder produces decodes back to the same cell."""
    cell = cell3d(116.3, -39.9, h, level, profile)  # type: ignore[arg-type]
    assert len(cell.code) == LEN3D[level]
    assert decode3d(cell.code, profile) == cell  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.one_of(heights, near_heights), levels, profiles)
def test_vertical_neighbours(h: float, level: int, profile: str) -> None:
    cell = cell3d(-70.5, 20.25, h, level, profile)  # type: ignore[arg-type]
    up = cell.up()
    if up is not None:
        assert up.bottom == cell.top
        assert up.down() == cell
        assert up.cell == cell.cell
    down = cell.down()
    if down is not None:
        assert down.top == cell.bottom
        assert down.up() == cell


@settings(max_examples=300, deadline=None)
@given(st.one_of(heights, near_heights), profiles)
def test_coarse_layers_nest(h: float, profile: str) -> None:
    """The level-L layer of h contains its level-10 layer; the 3D code of L is a prefix."""
    fine = Layer.from_height(h, MAX_LEVEL, profile)  # type: ignore[arg-type]
    full = encode3d(1.5, 1.5, h, MAX_LEVEL, profile)  # type: ignore[arg-type]
    for level in range(1, MAX_LEVEL):
        coarse = Layer.from_height(h, level, profile)  # type: ignore[arg-type]
        lo, hi = coarse.index_range
        flo, fhi = fine.index_range
        assert lo <= flo and fhi <= hi
        assert encode3d(1.5, 1.5, h, level, profile) == full[: LEN3D[level]]  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(lons, lats, st.one_of(heights, near_heights)), min_size=1, max_size=20),
    levels,
    profiles,
)
def test_encode3d_vector_equals_scalar(
    points: list[tuple[float, float, float]], level: int, profile: str
) -> None:
    lon, lat, h = (np.array(c) for c in zip(*points, strict=True))
    got = [s.decode() for s in vector.encode3d_str(lon, lat, h, level, profile)]
    assert got == [encode3d(a, b, c, level, profile) for a, b, c in points]  # type: ignore[arg-type]


#: Heights at the ends of the ±256° domain, where the c14 bit-sliced layers of the coarse levels
#: are only partly inside the domain (1 887 436 800 = 56·2²⁵ + 2²³ + … level-10 layers).
DOMAIN_END_HEIGHTS = [
    H_MIN,
    float(bottom(-N_LAYERS + 1)),
    float(bottom(-56 * 2**25)),
    float(bottom(56 * 2**25)),
    float(bottom(N_LAYERS - 1)),
    float(np.nextafter(H_MAX, 0)),
]


@pytest.mark.parametrize("profile", ["gb", "c14"])
@pytest.mark.parametrize("h", DOMAIN_END_HEIGHTS, ids=lambda h: f"{h:.6g}")
def test_3d_roundtrip_at_domain_ends(h: float, profile: str) -> None:
    """Codes the encoder emits for heights inside the domain must decode (every level)."""
    failures = []
    for level in range(1, MAX_LEVEL + 1):
        code = encode3d(116.3, 39.9, h, level, profile)  # type: ignore[arg-type]
        try:
            cell = decode3d(code, profile)  # type: ignore[arg-type]
        except InvalidCodeError as exc:
            failures.append(f"level {level}: {code} -> {exc}")
            continue
        assert cell.code == code
        assert cell.bottom <= h < cell.top
    assert not failures, "\n".join(failures)
