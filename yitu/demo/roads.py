"""Road network: the core's street lattice, each town seat's two streets, county roads (县道)
between seats and one road per village (村道) from its centre to its town seat.

Roads outside the core meander: a path between two points is the straight line plus a smooth
lateral offset (a few sine harmonics that vanish at both ends), kept on land (never across the
Han River or out of the county). Every road has a carriageway half-width; the buildings whose
footprints it would cut are cleared (``clear_buildings``), so no road runs through a building.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from yitu.demo.buildings import STREET_SPACING, Buildings, footprints
from yitu.demo.geography import STREETS, County
from yitu.demo.names import URBAN_STREETS

# Carriageway half-width (metres) by (zone, kind): what a building must keep clear of.
HALF_WIDTH = {
    ("urban", "arterial"): 12.0,
    ("urban", "secondary"): 8.0,
    ("seat", "secondary"): 5.0,
    ("seat", "branch"): 4.0,
    ("county", "arterial"): 5.0,
    ("village", "rural"): 2.5,
}


@dataclass
class RoadPlan:
    name: list[str]
    kind: list[str]
    town: list[int]  # town index the road is named in
    geometry: list[BaseGeometry]  # metres
    half_width: list[float]
    village_road: dict[int, int]  # village index -> road index
    seat_roads: dict[int, list[int]]  # town index -> road indexes
    urban: list[int]  # road indexes of the core


def meander(
    a: np.ndarray,
    b: np.ndarray,
    rng: np.random.Generator,
    amplitude: float,
    inside: BaseGeometry,
    step: float = 40.0,
) -> LineString:
    """A smooth winding path from a to b: the chord plus a lateral offset of random sine
    harmonics (k = 1…6, amplitude falling as 1/k, zero at both ends). If the path leaves
    ``inside``, the amplitude is halved (up to four times), then the chord is used."""
    d = b - a
    length = float(np.hypot(*d))
    n = max(8, int(length / step))
    t = np.linspace(0.0, 1.0, n + 1)
    normal = np.array([-d[1], d[0]]) / max(length, 1e-9)
    k = np.arange(1, 7)
    coef = rng.normal(0.0, 1.0, len(k)) / k  # drawn once: the result depends only on the seed
    wave = np.sin(np.pi * np.outer(t, k)) @ coef
    wave /= max(float(np.abs(wave).max()), 1e-9)
    chord = a + np.outer(t, d)
    amp = amplitude * length
    for _ in range(5):
        line = LineString(chord + np.outer(wave * amp, normal))
        if inside.contains(line):
            return line
        amp /= 2
    return LineString(chord)


def plan_roads(county: County, rng: np.random.Generator) -> RoadPlan:
    plan = RoadPlan([], [], [], [], [], {}, {}, [])

    def add(name: str, kind: str, zone: str, town: int, geom: BaseGeometry) -> int:
        plan.name.append(name)
        plan.kind.append(kind)
        plan.town.append(town)
        plan.geometry.append(geom)
        plan.half_width.append(HALF_WIDTH[(zone, kind)])
        return len(plan.name) - 1

    street_town = {t.code[:9]: i for i, t in enumerate(county.towns) if t.code[:9] in STREETS}
    w, s, e, n = county.urban_zone.bounds
    lines = [
        LineString([(w, y), (e, y)])
        for y in np.arange(np.ceil(s / STREET_SPACING), n / STREET_SPACING) * STREET_SPACING
    ]
    lines += [
        LineString([(x, s), (x, n)])
        for x in np.arange(np.ceil(w / STREET_SPACING), e / STREET_SPACING) * STREET_SPACING
    ]
    k = 0
    for line in lines:
        piece = line.intersection(county.urban_zone)
        if piece.is_empty or piece.length < 200:
            continue
        if piece.geom_type != "LineString":
            piece = max(piece.geoms, key=lambda g: g.length)
        mid = piece.interpolate(0.5, normalized=True)
        town = street_town["420682001"] if mid.y > 0 else street_town["420682002"]
        name = URBAN_STREETS[k] if k < len(URBAN_STREETS) else f"城区{k - len(URBAN_STREETS) + 1}路"
        kind = "arterial" if k % 3 == 0 else "secondary"
        plan.urban.append(add(name, kind, "urban", town, piece))
        k += 1
    land = county.land.buffer(-30.0)
    for ti, town in enumerate(county.towns):
        if town.code[:9] in STREETS:
            continue
        short = town.name[:-1] if town.name[-1] in "镇乡场" else town.name
        sx, sy = town.seat
        main = LineString([(sx - 700, sy), (sx + 700, sy)]).intersection(land)
        cross = LineString([(sx, sy - 600), (sx, sy + 600)]).intersection(land)
        ids = [
            add(f"{short}正街", "secondary", "seat", ti, _longest(main)),
            add(f"{short}新街", "branch", "seat", ti, _longest(cross)),
        ]
        plan.seat_roads[ti] = ids
    # County roads (县道): a minimum spanning tree over the seats, winding; inside the core
    # they join the street lattice (the part inside the core is not a separate road).
    seats = np.array([t.seat for t in county.towns])
    m = len(seats)
    d = np.hypot(*(seats[:, None, :] - seats[None, :, :]).transpose(2, 0, 1))
    in_tree, edges = {0}, []
    while len(in_tree) < m:
        best = min((d[i, j], i, j) for i in in_tree for j in range(m) if j not in in_tree)
        edges.append((best[1], best[2]))
        in_tree.add(best[2])
    core = county.urban_zone.buffer(-40.0)
    for serial, (i, j) in enumerate(edges, start=301):
        path = meander(seats[i], seats[j], rng, 0.05, land).difference(core)
        if path.is_empty or path.length < 200:  # both seats in the core: the streets link them
            continue
        add(f"X{serial}县道", "arterial", "county", i, _longest(path))
    for vi, v in enumerate(county.villages):
        if v.urban:
            continue
        seat = np.array(county.towns[v.town].seat)
        area = v.polygon.intersection(land)
        if not area.difference(county.urban_zone).is_empty:
            area = area.difference(county.urban_zone)  # the village's rural part
        start = np.array(area.representative_point().coords[0])
        line = meander(start, seat, rng, 0.08, land)
        if not core.contains(Point(start)):  # a street's village road ends at the core's edge
            line = _longest(line.difference(core))
        short = v.name.removesuffix("村委会").removesuffix("居委会").removesuffix("村")
        name = "场部路" if "虚拟" in short else f"{short}村道"
        plan.village_road[vi] = add(name, "rural", "village", v.town, line)
    return plan


def _longest(geom: BaseGeometry) -> BaseGeometry:
    if geom.geom_type == "LineString":
        return geom
    return max(geom.geoms, key=lambda g: g.length)


def clear_buildings(b: Buildings, plan: RoadPlan) -> np.ndarray:
    """Mask of the buildings no road's carriageway touches (vectorised: one STRtree query of
    all road corridors against all footprints)."""
    corridors = shapely.buffer(np.array(plan.geometry, dtype=object), plan.half_width)
    tree = shapely.STRtree(footprints(b))
    _, hit = tree.query(corridors, predicate="intersects")
    keep = np.ones(len(b.x), bool)
    keep[hit] = False
    return keep


def lengths(plan: RoadPlan) -> np.ndarray:
    return shapely.length(np.array(plan.geometry, dtype=object))
