"""Tests of yitu.grid.hierarchy: parent/children, neighbours, rings, distances, 3D hierarchy."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import unary_union

from yitu.grid.codec2d import decode, encode
from yitu.grid.codec3d import decode3d, encode3d
from yitu.grid.constants import LEN2D, LEN3D, MAX_LEVEL, SIZE_LAT, SIZE_LON
from yitu.grid.errors import GridError, InvalidCodeError
from yitu.grid.geometry import cell_polygon
from yitu.grid.height import Profile
from yitu.grid.hierarchy import (
    DIRECTIONS,
    EARTH_MEAN_RADIUS_M,
    children,
    children3d,
    distance_m,
    from_lattice,
    grid_distance,
    k_ring,
    lattice_position,
    neighbour,
    neighbours,
    parent,
    parent3d,
    vertical_neighbours,
)

lons = st.floats(min_value=-180, max_value=180, allow_nan=False)
lats = st.floats(min_value=-87.999, max_value=87.999, allow_nan=False)
levels = st.integers(min_value=1, max_value=MAX_LEVEL)
# Away from the polar limit: 4° at level 1 is the widest row, so k ≤ 3 rings stay inside ±88°.
mid_lats = st.floats(min_value=-70, max_value=70, allow_nan=False)

FAST = settings(max_examples=60, deadline=None)


@st.composite
def codes(draw: st.DrawFn, min_level: int = 1, max_level: int = MAX_LEVEL) -> str:
    level = draw(st.integers(min_value=min_level, max_value=max_level))
    return encode(draw(lons), draw(lats), level)


def mirror_lon(code: str) -> str:
    """The code of the cell mirrored across the prime meridian (zone z ↔ 61 − z)."""
    if len(code) == 1:
        return code
    return code[0] + f"{61 - int(code[1:3]):02d}" + code[3:]


def mirror_lat(code: str) -> str:
    """The code of the cell mirrored across the equator (N ↔ S)."""
    return ("S" if code[0] == "N" else "N") + code[1:]


# --- parent ----------------------------------------------------------------------------------
def test_parent_vectors() -> None:
    assert parent("N50J47539B82") == "N50J47539B8"
    assert parent("N50J47539B82", 1) == "N50J"
    assert parent("N50J47539B82", 0) == "N"
    assert parent("N50J47539B82", 6) == "N50J47539B82"
    assert parent("n50j47539b82") == "N50J47539B8"  # decoders accept lowercase
    assert parent("N50J") == "N"


def test_parent_errors() -> None:
    with pytest.raises(GridError, match="no parent"):
        parent("N")
    with pytest.raises(GridError, match="from 0 to 6"):
        parent("N50J47539B82", 7)
    with pytest.raises(InvalidCodeError, match="position 6"):
        parent("N50J4C539B82")


@FAST
@given(codes(), st.data())
def test_parent_is_a_prefix_and_contains_the_child(code: str, data: st.DataObject) -> None:
    cell = decode(code)
    level = data.draw(st.integers(min_value=0, max_value=cell.level))
    p = parent(code, level)
    assert code.startswith(p)
    assert len(p) == LEN2D[level]
    if level >= 1:
        assert cell_polygon(p).covers(cell_polygon(code))


# --- children --------------------------------------------------------------------------------
CHILD_COUNTS = {0: 1320, 1: 96, 2: 6, 3: 150, 4: 225, 5: 4, 6: 64, 7: 64, 8: 64, 9: 64}


@pytest.mark.parametrize("level", range(MAX_LEVEL))
@pytest.mark.parametrize("full", ["N50J47539B8255346152", "S11J47539B8255346152"])
def test_children_counts_and_order(full: str, level: int) -> None:
    code = full[: LEN2D[level]]
    kids = children(code)
    assert len(kids) == CHILD_COUNTS[level]
    assert kids == sorted(kids)
    assert len(set(kids)) == len(kids)
    for kid in kids:
        assert len(kid) == LEN2D[level + 1]
        assert parent(kid) == code
        assert decode(kid).code == kid  # every child is a valid canonical code


def test_children_of_level_10_is_empty() -> None:
    assert children("N50J47539B8255346152") == []


def test_children_of_hemisphere_cover_it() -> None:
    kids = children("S")
    assert kids[0] == "S01A" and kids[21] == "S01V" and kids[-1] == "S60V"
    union = unary_union([cell_polygon(k) for k in kids])
    assert union.bounds == (-180.0, -88.0, 180.0, 0.0)
    assert math.isclose(union.area, 360 * 88, rel_tol=1e-12)


@settings(max_examples=40, deadline=None)
@given(codes(max_level=MAX_LEVEL - 1))
def test_children_partition_the_parent(code: str) -> None:
    cell = decode(code)
    kids = [decode(k) for k in children(code)]
    # Exact check on integer units: the children tile the parent's extent, one per lattice slot.
    w, h = SIZE_LON[cell.level + 1], SIZE_LAT[cell.level + 1]
    slots = {((k.x - cell.x) // w, (k.y - cell.y) // h) for k in kids}
    cols, rows = cell.width_units // w, cell.height_units // h
    assert slots == {(i, j) for i in range(cols) for j in range(rows)}
    assert all(k.east == cell.east and k.north == cell.north for k in kids)
    # Geometric check: disjoint interiors (areas add up) and the union is the parent.
    polys = [cell_polygon(k.code) for k in kids]
    whole = cell_polygon(code)
    union = unary_union(polys)
    assert math.isclose(sum(p.area for p in polys), whole.area, rel_tol=1e-9)
    assert math.isclose(union.area, whole.area, rel_tol=1e-9)
    assert union.symmetric_difference(whole).area <= whole.area * 1e-9


# --- neighbours ------------------------------------------------------------------------------
def test_neighbour_vectors() -> None:
    n = neighbours("N31A00000")
    assert n["W"] == "N30A00000"
    assert n["S"] == "S31A00000"
    assert n["SW"] == "S30A00000"
    n = neighbours("N50J47539B82")
    assert n["E"] == "N50J47539B83"
    assert n["N"] == "N50J47539B90"
    assert neighbours("S11J47539B82")["E"] == "S11J47539A83"
    assert neighbours("N60V")["E"] == "N01V"
    assert neighbours("N01V")["W"] == "N60V"


def test_neighbours_order_and_poles() -> None:
    n = neighbours("N60V")
    assert list(n) == ["N", "NE", "E", "SE", "S", "SW", "W", "NW"]
    assert n == {
        "N": None,
        "NE": None,
        "E": "N01V",
        "SE": "N01U",
        "S": "N60U",
        "SW": "N59U",
        "W": "N59V",
        "NW": None,
    }
    assert neighbours("S31V")["S"] is None
    assert neighbours("S31V")["N"] == "S31U"


def test_neighbour_across_the_prime_meridian_and_antimeridian_at_level_10() -> None:
    east_of_0 = encode(1e-9, 45.0, 10)
    west_of_0 = encode(-1e-9, 45.0, 10)
    assert east_of_0[1:3] == "31" and west_of_0[1:3] == "30"
    assert neighbour(east_of_0, -1, 0) == west_of_0
    assert neighbour(west_of_0, 1, 0) == east_of_0
    east_edge = encode(180, -45.0, 10)  # clamped into the last column of zone 60
    west_edge = encode(-180, -45.0, 10)
    assert neighbour(east_edge, 1, 0) == west_edge
    assert neighbour(west_edge, -1, 0) == east_edge
    assert grid_distance(east_edge, west_edge) == 1


def test_neighbour_across_the_equator_at_level_10() -> None:
    north = encode(100.0, 0.0, 10)
    south = encode(100.0, -1e-9, 10)
    assert neighbour(north, 0, -1) == south
    assert neighbour(south, 0, 1) == north


def test_neighbour_errors() -> None:
    with pytest.raises(GridError, match="hemisphere"):
        neighbours("N")
    with pytest.raises(GridError, match="dx must be an integer"):
        neighbour("N50J", 1.5, 0)  # type: ignore[arg-type]


@FAST
@given(lons, lats, levels)
def test_neighbour_symmetry_all_directions(lon: float, lat: float, level: int) -> None:
    code = encode(lon, lat, level)
    for name, nb in neighbours(code).items():
        dx, dy = DIRECTIONS[name]
        assert nb == neighbour(code, dx, dy)
        if nb is not None:
            assert neighbour(nb, -dx, -dy) == code
            assert grid_distance(code, nb) == 1


@FAST
@given(lons, lats, levels)
def test_neighbours_mirror_across_hemispheres(lon: float, lat: float, level: int) -> None:
    code = encode(lon, lat, level)
    nbs = neighbours(code)
    for name, (dx, dy) in DIRECTIONS.items():
        nb = nbs[name]
        m_lon = neighbour(mirror_lon(code), -dx, dy)
        m_lat = neighbour(mirror_lat(code), dx, -dy)
        m_both = neighbour(mirror_lat(mirror_lon(code)), -dx, -dy)
        if nb is None:
            assert m_lon is None and m_lat is None and m_both is None
        else:
            assert m_lon == mirror_lon(nb)
            assert m_lat == mirror_lat(nb)
            assert m_both == mirror_lat(mirror_lon(nb))


@FAST
@given(lons, lats, levels)
def test_neighbours_are_geographically_adjacent(lon: float, lat: float, level: int) -> None:
    code = encode(lon, lat, level)
    w, s, e, n = decode(code).bbox
    east = neighbours(code)["E"]
    assert east is not None
    ew, es, _, en = decode(east).bbox
    assert (es, en) == (s, n)
    assert ew == e or (e == 180.0 and ew == -180.0)
    north = neighbours(code)["N"]
    if north is not None:
        nw, ns, ne, _ = decode(north).bbox
        assert (nw, ne) == (w, e)
        assert ns == n


@FAST
@given(lons, lats, levels)
def test_lattice_round_trip(lon: float, lat: float, level: int) -> None:
    code = encode(lon, lat, level)
    gx, gy = lattice_position(code)
    assert from_lattice(gx, gy, level) == code
    w, s, _, _ = decode(code).bbox
    # Column/row count cells from the origin: the SW corner sits at (gx·w, gy·h).
    assert math.isclose(w, gx * SIZE_LON[level] / 7_372_800, abs_tol=1e-12)
    assert math.isclose(s, gy * SIZE_LAT[level] / 7_372_800, abs_tol=1e-12)


def test_from_lattice_wraps_and_stops_at_the_pole() -> None:
    assert from_lattice(0, 0, 1) == "N31A"
    assert from_lattice(-1, -1, 1) == "S30A"
    assert from_lattice(30, 0, 1) == "N01A"
    assert from_lattice(0, 22, 1) is None
    assert from_lattice(0, -23, 1) is None
    assert from_lattice(0, -22, 1) == "S31V"


# --- k_ring and distances --------------------------------------------------------------------
@FAST
@given(lons, mid_lats, levels, st.integers(min_value=0, max_value=3))
def test_k_ring_size_and_membership(lon: float, lat: float, level: int, k: int) -> None:
    code = encode(lon, lat, level)
    ring = k_ring(code, k)
    assert len(ring) == (2 * k + 1) ** 2
    assert len(set(ring)) == len(ring)
    assert code in ring
    assert all(grid_distance(code, c) <= k for c in ring)
    if k == 1:
        assert set(ring) == {code, *neighbours(code).values()}


def test_k_ring_order() -> None:
    ring = k_ring("N50J47539B82", 1)
    assert ring == [
        "N50J47539A91",
        "N50J47539B90",
        "N50J47539B91",
        "N50J47539A83",
        "N50J47539B82",
        "N50J47539B83",
        "N50J47539A81",
        "N50J47539B80",
        "N50J47539B81",
    ]


def test_k_ring_wraps_and_is_cut_at_the_pole() -> None:
    assert k_ring("N31A", 0) == ["N31A"]
    whole_rows = k_ring("N31A", 30)  # wider than the world: every column once
    assert len(whole_rows) == 60 * (22 + 22)  # rows 31 north … 30 south cover both hemispheres
    assert len(set(whole_rows)) == len(whole_rows)
    polar = k_ring("N60V", 1)
    assert sorted(polar) == sorted(["N59V", "N60V", "N01V", "N59U", "N60U", "N01U"])
    assert (
        len(k_ring(encode(0.5, 87.99, 4), 2)) == 5 * 3
    )  # the last 1′ row below 88°: no rows north


def test_k_ring_errors() -> None:
    with pytest.raises(GridError, match="k must be >= 0"):
        k_ring("N50J", -1)
    with pytest.raises(GridError, match="more than the limit"):
        k_ring("N50J47539B8255346152", 10_000)


def test_grid_distance() -> None:
    assert grid_distance("N60V", "N01V") == 1
    assert grid_distance("N31A", "N30A") == 1
    assert grid_distance("N31A", "S30A") == 1
    assert grid_distance("N31A", "N01A") == 30
    assert grid_distance("N31A", "N31V") == 21
    with pytest.raises(GridError, match="same level"):
        grid_distance("N31A", "N31A00")


@FAST
@given(codes(), st.data())
def test_grid_distance_symmetric_and_matches_offsets(code: str, data: st.DataObject) -> None:
    dx = data.draw(st.integers(min_value=-5, max_value=5))
    dy = data.draw(st.integers(min_value=-5, max_value=5))
    assert grid_distance(code, code) == 0
    other = neighbour(code, dx, dy)
    if other is not None:
        assert grid_distance(code, other) == grid_distance(other, code)
        assert grid_distance(code, other) == max(abs(dx), abs(dy))


def test_distance_m_vectors() -> None:
    one_degree = EARTH_MEAN_RADIUS_M * math.pi / 180
    # N31A and S31A: centres (3°, 2°) and (3°, −2°), 4° apart along a meridian.
    assert math.isclose(distance_m("N31A", "S31A"), 4 * one_degree, rel_tol=1e-12)
    # Across the antimeridian the short way: N60A (177°, 2°) to N01A (−177°, 2°) is ~6°.
    d = distance_m("N60A", "N01A")
    assert 6 * one_degree * 0.99 < d < 6 * one_degree
    # 求是塔 to 东一门 (GB/T 39409 §8): two 4″ cells apart along a parallel, ≈ 189 m.
    lat = decode("N50J475491E").centre[1]
    along_parallel = EARTH_MEAN_RADIUS_M * math.cos(math.radians(lat)) * math.radians(8 / 3600)
    assert math.isclose(distance_m("N50J475491E", "N50J475493E"), along_parallel, rel_tol=1e-6)


@FAST
@given(codes(), codes())
def test_distance_m_symmetric_and_zero_to_itself(a: str, b: str) -> None:
    assert distance_m(a, a) == 0.0
    assert distance_m(a, b) == distance_m(b, a)
    assert 0 <= distance_m(a, b) <= math.pi * EARTH_MEAN_RADIUS_M + 1e-6


# --- 3D --------------------------------------------------------------------------------------
TABLE1_3D = "N036J0093000780B3010010520430140"


def test_parent3d() -> None:
    assert parent3d(TABLE1_3D) == TABLE1_3D[: LEN3D[9]]
    assert parent3d(TABLE1_3D, 1) == "N036J00"
    assert parent3d(TABLE1_3D, 0) == "N0"
    with pytest.raises(GridError, match="no parent"):
        parent3d("N0")
    with pytest.raises(InvalidCodeError):
        parent3d("N036J0093000780B301001052043014")  # 31 chars


PER_LAYER: dict[Profile, tuple[int, ...]] = {
    "gb": (64, 8, 2, 15, 15, 2, 8, 8, 8, 8),
    "c14": (64, 8, 2, 16, 16, 2, 8, 8, 8, 8),
}
# c14 has no valid level-0 3D code: its 2^31 level-0 span exceeds the ±256° height domain.
CASES_3D = [(lv, p) for p in ("gb", "c14") for lv in range(MAX_LEVEL) if (lv, p) != (0, "c14")]


@pytest.mark.parametrize(("level", "profile"), CASES_3D)
def test_children3d_partition(level: int, profile: Profile) -> None:
    code = encode3d(116.315222, 39.910278, 100, MAX_LEVEL, profile)[: LEN3D[level]]
    parent_cell = decode3d(code, profile)
    kids = children3d(code, profile)
    assert len(kids) == len(children(parent_cell.code2d)) * PER_LAYER[profile][level]
    assert kids == sorted(kids)
    assert len(set(kids)) == len(kids)
    # Level 0 has 84 480 children: check a spread-out sample of them.
    for kid in kids if len(kids) < 5000 else kids[::97]:
        assert parent3d(kid, profile=profile) == code
    # The sub-layers of one 2D child tile the parent's layer exactly (level-10 layer indices).
    first_child = children(parent_cell.code2d)[0]
    ranges = sorted(
        decode3d(k, profile).layer.index_range
        for k in kids
        if decode3d(k, profile).code2d == first_child
    )
    lo, hi = parent_cell.layer.index_range
    assert ranges[0][0] == lo and ranges[-1][1] == hi
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))


def test_children3d_below_ground() -> None:
    code = encode3d(116.3, 39.9, -0.001, 9, "c14")
    kids = children3d(code, "c14")
    assert len(kids) == 64 * 7  # the c14 level-10 "−0" layer does not exist
    gb = encode3d(116.3, 39.9, -0.001, 9, "gb")
    gb_kids = children3d(gb, "gb")
    assert len(gb_kids) == 64 * 8
    assert all(parent3d(k) == gb for k in gb_kids)
    assert children3d(TABLE1_3D) == []


def test_vertical_neighbours() -> None:
    v = vertical_neighbours(TABLE1_3D)
    assert v["up"] == "N036J0093000780B3010010520430141"
    down = v["down"]
    assert down is not None and down[1] == "1"  # first layer below ground
    assert vertical_neighbours(down)["up"] == TABLE1_3D
    assert decode3d(down).top == decode3d(TABLE1_3D).bottom
    top = encode3d(0.5, 0.5, 5.28e8, 1)
    assert vertical_neighbours(top)["up"] is None
    assert vertical_neighbours(top)["down"] is not None
    bottom = encode3d(0.5, 0.5, -6.3e6, 1)
    assert vertical_neighbours(bottom)["down"] is None


@FAST
@given(lons, lats, st.floats(min_value=-1000, max_value=20_000), levels)
def test_vertical_neighbours_are_inverse(lon: float, lat: float, h: float, level: int) -> None:
    code = encode3d(lon, lat, h, level)
    v = vertical_neighbours(code)
    assert v["up"] is not None and v["down"] is not None
    assert vertical_neighbours(v["up"])["down"] == code
    assert vertical_neighbours(v["down"])["up"] == code
    assert decode3d(v["up"]).bottom == decode3d(code).top
