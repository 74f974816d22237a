"""County geography: outline, the Han River (汉江, a water surface along the west edge; the
county boundary runs midstream), town seats, town/village/grid boundaries.

Everything is built in a local metric plane (x east, y north, metres from the urban core at
111.67°E, 32.38°N) and converted to lon/lat once, with an affine map, before any containment
test, so a point is inside a boundary in exactly the coordinates that are stored.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPoint, Point, Polygon
from shapely.geometry.base import BaseGeometry

from yitu.access.jurisdiction import bundled_divisions

LON0, LAT0 = 111.67, 32.38
KX = 111_320.0 * math.cos(math.radians(LAT0))  # metres per degree of longitude
KY = 110_574.0  # metres per degree of latitude

# Town seats in metres from the core (streets inside the core; towns spread north and east,
# as in the real county where the city sits in the south-west corner on the Han River).
SEATS: dict[str, tuple[float, float]] = {
    "420682001": (-200.0, 1300.0),  # 光化街道
    "420682002": (700.0, -1400.0),  # 酂阳街道
    "420682100": (24_000.0, 19_000.0),  # 孟楼镇
    "420682101": (31_000.0, 6_000.0),  # 竹林桥镇
    "420682102": (17_000.0, 12_500.0),  # 薛集镇
    "420682103": (9_000.0, 15_500.0),  # 张集镇
    "420682104": (5_000.0, -5_500.0),  # 仙人渡镇
    "420682105": (1_000.0, 9_500.0),  # 洪山嘴镇
    "420682106": (15_000.0, -1_500.0),  # 李楼镇
    "420682200": (5_000.0, 20_500.0),  # 袁冲乡
    "420682501": (6_000.0, 3_500.0),  # 蔬菜原种场
    "420682502": (25_000.0, 10_500.0),  # 百花山林场
    "420682503": (34_500.0, 13_000.0),  # 林茂山林场
}
STREETS = ("420682001", "420682002")
CORE = (300.0, -100.0)
URBAN_RADIUS = 3_600.0


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return LON0 + np.asarray(x) / KX, LAT0 + np.asarray(y) / KY


def geom_to_lonlat(geom: BaseGeometry) -> BaseGeometry:
    return shapely.transform(geom, lambda c: np.column_stack(to_lonlat(c[:, 0], c[:, 1])))


def river_x(y: np.ndarray | float) -> np.ndarray:
    """x of the Han River's east bank at y: it runs NNW–SSE along the county's west edge."""
    y = np.asarray(y, dtype=np.float64)
    return -1_600.0 - 0.12 * y + 900.0 * np.sin(y / 5_200.0)


def river_width(y: np.ndarray | float) -> np.ndarray:
    """Width of the Han River's water surface at y (metres): 500–900 m with its sandbanks."""
    y = np.asarray(y, dtype=np.float64)
    return 700.0 + 200.0 * np.sin(y / 7_300.0 + 0.7)


def river_polygon(south: float, north: float) -> Polygon:
    """The Han River's water surface between two latitudes (metres): from the west bank to the
    east bank ``river_x``; the county boundary runs midstream."""
    ys = np.linspace(south, north, max(2, int((north - south) / 250.0)) + 1)
    east = river_x(ys)
    west = east - river_width(ys)
    return Polygon([*zip(east, ys, strict=True), *zip(west[::-1], ys[::-1], strict=True)])


def ground_m(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Geodetic ground height: ~87 m on the river plain rising gently to ~118 m in the hills."""
    return (
        87.0
        + 0.0005 * np.clip(x, 0, None)
        + 0.0003 * (np.asarray(y) + 9_000.0)
        + 3.0 * np.sin(x / 2_500.0) * np.cos(y / 3_100.0)
    )


@dataclass
class Division:
    code: str  # 12 digits
    name: str
    polygon: BaseGeometry  # metres
    seat: tuple[float, float]
    urban: bool = False  # an urban community (社区/居委会) of the core
    town: int = -1  # index of the town (villages)
    children: list[int] = field(default_factory=list)


@dataclass
class County:
    outline: BaseGeometry
    river: LineString  # the Han River's centreline (the county boundary runs along it)
    water: BaseGeometry  # the Han River's water surface, along the whole county
    land: BaseGeometry  # outline minus water: where buildings and roads may be
    urban_zone: BaseGeometry
    towns: list[Division]
    villages: list[Division]


def _outline() -> BaseGeometry:
    theta = np.linspace(0, 2 * math.pi, 240, endpoint=False)
    r = 1 + 0.07 * np.sin(3 * theta + 0.6) + 0.04 * np.sin(5 * theta + 2.1)
    cx, cy, a, b = 15_500.0, 6_500.0, 21_300.0, 16_300.0
    shape = Polygon(np.column_stack([cx + a * r * np.cos(theta), cy + b * r * np.sin(theta)]))
    ys = np.linspace(-40_000, 40_000, 321)
    midstream = river_x(ys) - river_width(ys) / 2
    east_of_river = Polygon(
        [*zip(midstream, ys, strict=True), (60_000.0, 40_000.0), (60_000.0, -40_000.0)]
    )
    return shape.intersection(east_of_river)


def _sample_in(
    geom: BaseGeometry,
    n: int,
    rng: np.random.Generator,
    centre: tuple[float, float] | None = None,
    sigma: float = 0.0,
) -> np.ndarray:
    """n points inside geom: uniform, or Gaussian around centre when sigma > 0."""
    out: list[np.ndarray] = []
    got = 0
    w, s, e, nn = geom.bounds
    while got < n:
        m = max(64, 4 * n)
        if sigma > 0 and centre is not None:
            pts = rng.normal(centre, sigma, size=(m, 2))
        else:
            pts = np.column_stack([rng.uniform(w, e, m), rng.uniform(s, nn, m)])
        pts = pts[shapely.contains_xy(geom, pts[:, 0], pts[:, 1])]
        out.append(pts)
        got += len(pts)
        if sigma > 0 and len(pts) == 0:
            sigma *= 1.5  # the Gaussian misses a thin polygon: widen it
    return np.concatenate(out)[:n]


def voronoi_split(region: BaseGeometry, seeds: np.ndarray) -> list[BaseGeometry]:
    """Cells of the seeds' Voronoi diagram clipped to region, in seed order."""
    if len(seeds) == 1:
        return [region]
    cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=region, ordered=True)
    parts = [shapely.make_valid(c.intersection(region)) for c in cells.geoms]
    return [_polygonal(p) for p in parts]


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    polys = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(polys) if polys else geom


def build_county(rng: np.random.Generator) -> County:
    rows = list(csv.DictReader(bundled_divisions().open(encoding="utf-8")))
    outline = _outline()
    _, s, _, n = outline.bounds
    water = river_polygon(s - 3_000.0, n + 3_000.0)
    ys = np.linspace(s - 3_000.0, n + 3_000.0, 161)
    river = LineString(np.column_stack([river_x(ys) - river_width(ys) / 2, ys]))
    land = outline.difference(water)
    # The core keeps 150 m from the county edge and the river bank (the embankment).
    urban_zone = Point(CORE).buffer(URBAN_RADIUS, 48).intersection(land.buffer(-150.0))
    town_rows = [r for r in rows if len(r["code"]) == 9]
    seat_pts = np.array([SEATS[r["code"]] for r in town_rows])
    town_polys = voronoi_split(outline, seat_pts)
    towns = [
        Division(r["code"].ljust(12, "0"), r["name"], p, tuple(s))
        for r, p, s in zip(town_rows, town_polys, seat_pts, strict=True)
    ]
    by_code = {r["code"]: i for i, r in enumerate(town_rows)}
    villages: list[Division] = []
    for t_code, ti in by_code.items():
        town = towns[ti]
        vrows = [r for r in rows if len(r["code"]) == 12 and r["parent_code"] == t_code]
        urban_flags = [
            t_code in STREETS and ("社区" in r["name"] or "居委会" in r["name"]) for r in vrows
        ]
        n_urban = sum(urban_flags)
        seeds = np.empty((len(vrows), 2))
        urban_part = town.polygon.intersection(urban_zone)
        rural_part = town.polygon.difference(urban_zone).intersection(land)
        if n_urban:
            seeds[np.array(urban_flags)] = _sample_in(urban_part, n_urban, rng, CORE, 1_300.0)
        n_rural = len(vrows) - n_urban
        if n_rural:
            area = rural_part if rural_part.area > 1e6 else town.polygon
            seeds[~np.array(urban_flags)] = _sample_in(area, n_rural, rng)
        for r, poly, seed, urb in zip(
            vrows, voronoi_split(town.polygon, seeds), seeds, urban_flags, strict=True
        ):
            town.children.append(len(villages))
            villages.append(Division(r["code"], r["name"], poly, (seed[0], seed[1]), urb, ti))
    return County(outline, river, water, land, urban_zone, towns, villages)
