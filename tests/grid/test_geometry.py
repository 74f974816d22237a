"""Tests of yitu.grid.geometry: bbox, centre, polygon, GeoJSON; 2D/3D code detection."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, shape

from yitu.grid.codec2d import decode, encode
from yitu.grid.codec3d import decode3d, encode3d
from yitu.grid.constants import LEN2D, LEN3D, MAX_LEVEL
from yitu.grid.errors import GridError, InvalidCodeError
from yitu.grid.geometry import (
    cell_bbox,
    cell_centre,
    cell_geojson,
    cell_polygon,
    cells_geojson,
    code_dims,
)

lons = st.floats(min_value=-180, max_value=180, allow_nan=False)
lats = st.floats(min_value=-87.999, max_value=87.999, allow_nan=False)
levels = st.integers(min_value=1, max_value=MAX_LEVEL)
FAST = settings(max_examples=60, deadline=None)

FULL_2D = "N50J47539B8255346152"
TABLE1_3D = "N036J0093000780B3010010520430140"


def signed_area(ring: list[list[float]]) -> float:
    """Shoelace area: positive for a counter-clockwise ring.

    Relative to the first vertex, so a 1/2048″ cell near 180° does not cancel to zero.
    """
    ox, oy = ring[0]
    pts = [(x - ox, y - oy) for x, y in ring]
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(pts)) / 2


# --- 2D / 3D detection -----------------------------------------------------------------------
@pytest.mark.parametrize("level", range(MAX_LEVEL + 1))
def test_code_dims_every_length(level: int) -> None:
    assert code_dims(FULL_2D[: LEN2D[level]]) == 2
    assert code_dims(TABLE1_3D[: LEN3D[level]]) == 3


def test_code_dims_shared_lengths() -> None:
    shared = sorted(set(LEN2D) & set(LEN3D))
    assert shared == [7, 12, 18, 20]
    assert code_dims("N50J475") == 2
    assert code_dims("N036J00") == 3
    assert code_dims("s11j47539b82") == 2  # lowercase row letter still reads as 2D


def test_code_dims_errors() -> None:
    with pytest.raises(InvalidCodeError, match="length 3"):
        code_dims("N50")
    with pytest.raises(InvalidCodeError, match="position 4"):
        code_dims("N50-475")
    with pytest.raises(InvalidCodeError, match="string"):
        code_dims(42)  # type: ignore[arg-type]
    with pytest.raises(GridError, match="dims must be"):
        cell_bbox("N50J", dims=4)  # type: ignore[call-overload]


def test_explicit_dims_overrides_detection() -> None:
    # A 12-character 3D code read as 2D is rejected with the 2D decoder's message.
    with pytest.raises(InvalidCodeError):
        cell_bbox(TABLE1_3D[:12], dims=2)
    assert cell_bbox(TABLE1_3D[:12], dims=3) == cell_bbox(TABLE1_3D[:12])


# --- bbox, centre, polygon -------------------------------------------------------------------
def test_bbox_vectors() -> None:
    # spec §8 V13 (iBEST-DB ST_BGC2Box) and §8.2 decode vectors
    w, s, e, n = cell_bbox("N50J47539B825534")
    assert math.isclose(w, 116.3125954861111, abs_tol=1e-12)
    assert math.isclose(e, 116.31260416666667, abs_tol=1e-12)
    assert math.isclose(s, 39.993159722222224, abs_tol=1e-12)
    assert math.isclose(n, 39.993168402777776, abs_tol=1e-12)
    box = cell_bbox("S11J47539B8255346152")
    expected = (-116.312602810330, -39.993161214193, -116.312602674696, -39.993161078559)
    assert all(math.isclose(a, b, abs_tol=1e-11) for a, b in zip(box, expected, strict=True))
    box = cell_bbox("N29C0420800000000000")
    expected = (-6.000000135634, 10.3, -6.0, 10.300000135634)
    assert all(math.isclose(a, b, abs_tol=1e-11) for a, b in zip(box, expected, strict=True))


def test_bbox_and_centre_3d() -> None:
    w, s, bottom, e, n, top = cell_bbox(TABLE1_3D)
    assert (w, s, e, n) == cell_bbox("N36J93078B3101524314")
    assert bottom == 0.0
    assert math.isclose(top, 0.01496842, rel_tol=1e-6)  # one level-10 layer, 1.497 cm
    lon, lat, h = cell_centre(TABLE1_3D)
    assert (lon, lat) == cell_centre("N36J93078B3101524314")
    assert h == pytest.approx(top / 2)
    code = encode3d(116.31260277777778, 39.993161111111114, 25125, 8)
    assert cell_bbox(code, dims=3)[2] == pytest.approx(25124.4602, abs=1e-4)  # spec V13


@pytest.mark.parametrize(
    ("code", "ring"),
    [
        ("N31A", [(0, 0), (6, 0), (6, 4), (0, 4), (0, 0)]),
        ("N30A", [(-6, 0), (0, 0), (0, 4), (-6, 4), (-6, 0)]),
        ("S30A", [(-6, -4), (0, -4), (0, 0), (-6, 0), (-6, -4)]),
        ("S31A", [(0, -4), (6, -4), (6, 0), (0, 0), (0, -4)]),
        ("S01V", [(-180, -88), (-174, -88), (-174, -84), (-180, -84), (-180, -88)]),
        ("N60V", [(174, 84), (180, 84), (180, 88), (174, 88), (174, 84)]),
    ],
)
def test_polygon_ring_in_every_hemisphere(code: str, ring: list[tuple[int, int]]) -> None:
    poly = cell_polygon(code)
    assert list(poly.exterior.coords) == [(float(x), float(y)) for x, y in ring]
    assert poly.exterior.is_ccw


@FAST
@given(lons, lats, levels)
def test_polygon_contains_centre_and_is_ccw(lon: float, lat: float, level: int) -> None:
    code = encode(lon, lat, level)
    poly = cell_polygon(code)
    assert poly.is_valid and poly.area > 0
    assert poly.exterior.is_ccw
    assert poly.contains(Point(cell_centre(code)))
    assert poly.bounds == cell_bbox(code)
    # The centre re-encodes to the same cell (spec §3.2).
    assert encode(*cell_centre(code, dims=2), level) == code


@FAST
@given(lons, lats, st.floats(min_value=-500, max_value=10_000), levels)
def test_3d_polygon_is_the_footprint(lon: float, lat: float, h: float, level: int) -> None:
    code = encode3d(lon, lat, h, level)
    cell3 = decode3d(code)
    assert cell_polygon(code).equals(cell_polygon(cell3.code2d))
    assert cell_bbox(code) == cell3.bbox
    assert cell3.bottom <= h < cell3.top


# --- GeoJSON ---------------------------------------------------------------------------------
@FAST
@given(lons, lats, levels)
def test_geojson_feature(lon: float, lat: float, level: int) -> None:
    code = encode(lon, lat, level)
    feature = cell_geojson(code)
    assert feature["type"] == "Feature"
    assert feature["id"] == code
    geometry = feature["geometry"]
    assert geometry["type"] == "Polygon"
    ring = geometry["coordinates"][0]
    assert len(ring) == 5 and ring[0] == ring[-1]  # closed
    assert signed_area(ring) > 0  # counter-clockwise (RFC 7946 right-hand rule)
    assert feature["bbox"] == list(decode(code).bbox)
    assert shape(geometry).equals(cell_polygon(code))
    assert feature["properties"] == {"code": code, "level": level, "dims": 2}
    json.dumps(feature)  # plain JSON types only


def test_geojson_3d_properties_and_user_properties() -> None:
    feature = cell_geojson(TABLE1_3D, {"name": "测试", "level": "overridden"})
    props = feature["properties"]
    assert props["code"] == TABLE1_3D
    assert props["code2d"] == "N36J93078B3101524314"
    assert props["dims"] == 3 and props["profile"] == "gb"
    assert props["bottom"] == 0.0
    assert math.isclose(props["top"], 0.01496842, rel_tol=1e-6)
    assert props["name"] == "测试"
    assert props["level"] == "overridden"  # the caller's properties win
    assert feature["geometry"] == cell_geojson("N36J93078B3101524314")["geometry"]


def test_geojson_canonicalises_lowercase() -> None:
    assert cell_geojson("n50j47539b82")["id"] == "N50J47539B82"


def test_cells_geojson() -> None:
    codes = ["N50J475491E", "N50J475492E", TABLE1_3D]
    fc = cells_geojson(codes)
    assert fc["type"] == "FeatureCollection"
    assert [f["id"] for f in fc["features"]] == codes
    assert cells_geojson([])["features"] == []
    with pytest.raises(GridError, match="iterable of codes"):
        cells_geojson("N50J475491E")
    with pytest.raises(InvalidCodeError):
        cells_geojson(["N50J475491E", "N99J"])
