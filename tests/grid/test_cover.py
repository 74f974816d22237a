"""Covers: exact against brute force, every point covered, compact/expand, SQL ranges, 3D."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiPoint, Point, Polygon, box, mapping

from yitu.grid import cover as C  # noqa: N812
from yitu.grid import vector as V  # noqa: N812
from yitu.grid.codec2d import decode, encode
from yitu.grid.constants import SIZE_LAT, SIZE_LON, UNITS_PER_DEGREE
from yitu.grid.errors import CoordinateError, GridError
from yitu.grid.geometry import cell_polygon

K = UNITS_PER_DEGREE


def brute_force_areal(poly: Polygon, level: int) -> tuple[set[str], set[str]]:
    """(strict, loose) sets of ``level`` cells for ``poly`` by testing every cell of its bbox
    (lattice of cell centres, each re-encoded, its box intersected with the polygon).

    strict: the overlap is wider and taller than 1e-5 units (no float sliver can explain it);
    loose: the cell's closed box meets the polygon at all. A correct areal cover lies between.
    """
    w, s, e, n = poly.bounds
    dw, dh = SIZE_LON[level] / K, SIZE_LAT[level] / K
    xs = np.arange(np.floor(w / dw) - 1, np.ceil(e / dw) + 1) * dw + dw / 2
    ys = np.arange(np.floor(s / dh) - 1, np.ceil(n / dh) + 1) * dh + dh / 2
    gx, gy = np.meshgrid(xs, ys)
    ok = (np.abs(gx) <= 180) & (np.abs(gy) < 88)
    codes = set(np.char.decode(V.encode_str(gx[ok], gy[ok], level), "ascii").tolist())
    strict, loose = set(), set()
    for c in codes:
        overlap = poly.intersection(box(*decode(c).bbox))
        if overlap.is_empty:
            continue
        loose.add(c)
        x0, y0, x1, y1 = overlap.bounds
        if overlap.area > 0 and min(x1 - x0, y1 - y0) * K > 1e-5:
            strict.add(c)
    return strict, loose


def assert_between(got: set[str], poly: Polygon, level: int) -> None:
    strict, loose = brute_force_areal(poly, level)
    assert strict <= got, f"missing cells {sorted(strict - got)}"
    assert got <= loose, f"cells not touching the polygon {sorted(got - loose)}"


def random_polygon(draw: st.DrawFn, level: int) -> Polygon:
    """A random triangle or quadrilateral a few cells across, anywhere on the globe."""
    dw, dh = SIZE_LON[level] / K, SIZE_LAT[level] / K
    span = draw(st.floats(2, 12))
    cx = draw(st.floats(-179.0 + span * dw, 179.0 - span * dw))
    cy = draw(st.floats(-87.0 + span * dh, 87.0 - span * dh))
    n = draw(st.integers(3, 5))
    pts = [
        (cx + draw(st.floats(-span, span)) * dw, cy + draw(st.floats(-span, span)) * dh)
        for _ in range(n)
    ]
    poly = shapely.convex_hull(MultiPoint(pts))
    return poly if isinstance(poly, Polygon) and poly.area > 0 else box(cx, cy, cx + dw, cy + dh)


@st.composite
def polygons(draw: st.DrawFn) -> tuple[Polygon, int]:
    level = draw(st.integers(2, 10))
    return random_polygon(draw, level), level


@settings(max_examples=60, deadline=None)
@given(polygons())
def test_areal_cover_equals_brute_force(case: tuple[Polygon, int]) -> None:
    poly, level = case
    assert_between(set(C.cover_codes(poly, level)), poly, level)


@settings(max_examples=60, deadline=None)
@given(polygons(), st.integers(0, 2**32 - 1))
def test_every_inner_point_is_covered(case: tuple[Polygon, int], seed: int) -> None:
    poly, level = case
    rng = np.random.default_rng(seed)
    w, s, e, n = poly.bounds
    x, y = rng.uniform(w, e, 2000), rng.uniform(s, n, 2000)
    inside = shapely.contains_xy(poly, x, y)
    # slivers thinner than the documented 1e-6-unit tolerance count as edge contact
    inside &= shapely.distance(poly.boundary, shapely.points(x, y)) > 1e-5 / K
    cells = C.cover_cells(poly, level)
    assert np.isin(V.encode_int(x[inside], y[inside], level), cells).all()


@pytest.mark.parametrize(
    "code", ["N50J47539B82", "S11J47539B82", "N31A00000", "S30A", "N60V", "N01V", "S01A77",
             "N50J47539B8255346152", "S30A0000000"]
)
def test_cover_of_a_cell_polygon_is_the_cell(code: str) -> None:
    cell = decode(code)
    assert C.cover_codes(cell_polygon(code), cell.level) == [code]
    if cell.level < 10:
        children = C.cover_cells(cell_polygon(code), cell.level + 1)
        assert V.int_to_str(C.compact(children)).tolist() == [code.encode()]


def test_polygon_across_equator_and_prime_meridian() -> None:
    tri = Polygon([(-1, -1), (2, -0.5), (0.5, 2)])
    got = set(C.cover_codes(tri, 4))
    assert got == brute_force_areal(tri, 4)[0]
    assert {c[0] for c in got} == {"N", "S"}
    assert {c[1:3] for c in got} == {"30", "31"}


def test_polygon_touching_the_antimeridian() -> None:
    poly = box(179.99, 10.0, 180.0, 10.01)
    assert set(C.cover_codes(poly, 5)) == brute_force_areal(poly, 5)[0]
    west = box(-180.0, -10.01, -179.99, -10.0)
    assert {c[1:3] for c in C.cover_codes(west, 5)} == {"01"}


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_line_cover_holds_every_point_of_the_line(data: st.DataObject) -> None:
    level = data.draw(st.integers(3, 10))
    dw, dh = SIZE_LON[level] / K, SIZE_LAT[level] / K
    x0 = data.draw(st.floats(-179.0, 179.0 - 20 * dw))
    y0 = data.draw(st.floats(-87.0, 87.0 - 20 * dh))
    pts = [(x0 + data.draw(st.floats(0, 20)) * dw, y0 + data.draw(st.floats(0, 20)) * dh)
           for _ in range(3)]
    line = LineString(pts)
    cells = C.cover_cells(line, level)
    t = np.linspace(0, 1, 3001)
    on = shapely.line_interpolate_point(line, t, normalized=True)
    assert np.isin(V.encode_int(shapely.get_x(on), shapely.get_y(on), level), cells).all()
    for c in V.int_to_str(cells):  # every cover cell touches the line (up to float clipping)
        assert line.distance(box(*decode(c.decode()).bbox)) < 1e-12


def test_points_cover_is_their_cells() -> None:
    pts = [(116.31260277777777, 39.993161111111114), (-6.0, 10.3), (111.675, 32.385), (0, 0)]
    got = C.cover_codes(MultiPoint(pts), 9)
    assert got == sorted({encode(x, y, 9) for x, y in pts})
    assert C.cover_codes(Point(-6.0, 10.3), 10) == ["N29C0420800000000000"]


def test_geojson_inputs() -> None:
    poly = box(111.6, 32.3, 111.7, 32.4)
    expected = C.cover_codes(poly, 4)
    feature = {"type": "Feature", "geometry": mapping(poly), "properties": {}}
    collection = {"type": "FeatureCollection", "features": [feature]}
    assert C.cover_codes(mapping(poly), 4) == expected
    assert C.cover_codes(feature, 4) == expected
    assert C.cover_codes(collection, 4) == expected


@settings(max_examples=40, deadline=None)
@given(polygons())
def test_compact_then_expand_is_identity(case: tuple[Polygon, int]) -> None:
    poly, level = case
    cells = C.cover_cells(poly, level)
    packed = C.compact(cells)
    assert packed.size <= cells.size
    assert np.array_equal(C.expand(packed, level), cells)


def test_compact_merges_complete_parents() -> None:
    parent = "N50J47539"
    cells = C.cover_cells(cell_polygon(parent), 7)
    assert cells.size == 225 * 4 * 64
    assert V.int_to_str(C.compact(cells)).tolist() == [parent.encode()]
    # one child missing: the parent must not appear
    partial = C.compact(cells[1:])
    assert parent.encode() not in V.int_to_str(partial).tolist()


@settings(max_examples=40, deadline=None)
@given(polygons(), st.integers(0, 2**32 - 1), st.sampled_from([10, 9]))
def test_ranges_select_exactly_the_covered_codes(
    case: tuple[Polygon, int], seed: int, data_level: int
) -> None:
    poly, level = case
    if level > data_level:
        level = data_level
    rng = np.random.default_rng(seed)
    w, s, e, n = poly.buffer(3 * SIZE_LAT[level] / K).bounds
    x = np.clip(rng.uniform(w, e, 3000), -180, 180)
    y = np.clip(rng.uniform(s, n, 3000), -87.9, 87.9)
    codes = V.encode_int(x, y, data_level)
    r = C.cover_ranges(poly, level, data_level)
    assert (r[1:, 0] > r[:-1, 1]).all()  # sorted, disjoint and not mergeable
    in_ranges = np.zeros(codes.size, dtype=bool)
    for lo, hi in r:
        in_ranges |= (codes >= lo) & (codes < hi)
    covered = np.isin(V.int_parent(codes, level), C.cover_cells(poly, level))
    assert np.array_equal(in_ranges, covered)


def test_bbox_ranges_are_few_for_a_viewport() -> None:
    r = C.bbox_ranges(111.66, 32.37, 111.68, 32.39, 7)
    assert 0 < len(r) < 400
    with pytest.raises(CoordinateError, match="west > east"):
        C.bbox_ranges(111.7, 32.3, 111.6, 32.4, 5)


def test_cover3d_layers_and_cells() -> None:
    poly = box(111.67, 32.38, 111.6701, 32.3801)
    cells = C.cover_cells(poly, 8)
    codes = C.cover3d(poly, 8, 0.0, 10.0)
    from yitu.grid.codec3d import decode3d

    decoded = [decode3d(c.decode()) for c in codes]
    layers = {(d.bottom, d.top) for d in decoded}
    assert len(codes) == cells.size * len(layers)
    assert min(b for b, _ in layers) <= 0.0 < min(t for _, t in layers)
    assert max(b for b, _ in layers) <= 10.0 < max(t for _, t in layers)
    assert {d.code2d for d in decoded} == set(C.cover_codes(poly, 8))
    below = C.cover3d(poly, 6, -30.0, -1.0, profile="c14")
    assert all(c.decode()[1] == "1" for c in below)


def test_cover_errors_name_the_problem() -> None:
    with pytest.raises(GridError, match="empty"):
        C.cover_cells(Polygon(), 5)
    with pytest.raises(GridError, match="GeoJSON"):
        C.cover_cells({"type": "Polygon", "coordinates": "nonsense"}, 5)
    with pytest.raises(CoordinateError, match="outside"):
        C.cover_cells(box(170, 0, 190, 1), 3)
    with pytest.raises(GridError, match="max_cells"):
        C.cover_cells(box(111, 32, 112, 33), 10)
    with pytest.raises(CoordinateError, match="level"):
        C.cover_cells(box(111, 32, 112, 33), 11)
    with pytest.raises(CoordinateError, match="above"):
        C.cover3d(box(111, 32, 111.001, 32.001), 5, 10.0, 0.0)
    with pytest.raises(GridError, match="height layers"):  # refused before enumerating them
        C.cover3d(box(111, 32, 111.0001, 32.0001), 10, -6e6, 5e8)


def test_polar_part_is_ignored() -> None:
    poly = box(10.0, 87.5, 10.5, 89.0)
    codes = C.cover_codes(poly, 2)
    assert codes and all(decode(c).bbox[3] <= 88.0 for c in codes)
