"""Road network: the core's street lattice, each town seat's two streets, county roads between
seats, and one road per village (村道) from its centre to the nearest seat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from yitu.demo.buildings import STREET_SPACING
from yitu.demo.geography import STREETS, County
from yitu.demo.names import URBAN_STREETS


@dataclass
class RoadPlan:
    name: list[str]
    kind: list[str]
    town: list[int]  # town index the road is named in
    geometry: list[BaseGeometry]  # metres
    village_road: dict[int, int]  # village index -> road index
    seat_roads: dict[int, list[int]]  # town index -> road indexes
    urban: list[int]  # road indexes of the core


def plan_roads(county: County, rng: np.random.Generator) -> RoadPlan:
    plan = RoadPlan([], [], [], [], {}, {}, [])

    def add(name: str, kind: str, town: int, geom: BaseGeometry) -> int:
        plan.name.append(name)
        plan.kind.append(kind)
        plan.town.append(town)
        plan.geometry.append(geom)
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
        plan.urban.append(add(name, "arterial" if k % 3 == 0 else "secondary", town, piece))
        k += 1
    for ti, town in enumerate(county.towns):
        if town.code[:9] in STREETS:
            continue
        short = town.name[:-1] if town.name[-1] in "镇乡场" else town.name
        sx, sy = town.seat
        ids = [
            add(f"{short}正街", "secondary", ti, LineString([(sx - 700, sy), (sx + 700, sy)])),
            add(f"{short}新街", "branch", ti, LineString([(sx, sy - 600), (sx, sy + 600)])),
        ]
        plan.seat_roads[ti] = ids
    # County roads (县道): a minimum spanning tree over the seats, with a bend in the middle.
    seats = np.array([t.seat for t in county.towns])
    m = len(seats)
    d = np.hypot(*(seats[:, None, :] - seats[None, :, :]).transpose(2, 0, 1))
    in_tree, edges = {0}, []
    while len(in_tree) < m:
        best = min((d[i, j], i, j) for i in in_tree for j in range(m) if j not in in_tree)
        edges.append((best[1], best[2]))
        in_tree.add(best[2])
    for serial, (i, j) in enumerate(edges, start=301):
        a, b = seats[i], seats[j]
        mid = (a + b) / 2 + rng.normal(0, 400, 2)
        add(f"X{serial}县道", "arterial", i, LineString([tuple(a), tuple(mid), tuple(b)]))
    for vi, v in enumerate(county.villages):
        if v.urban:
            continue
        seat = np.array(county.towns[v.town].seat)
        start = np.array(v.polygon.representative_point().coords[0])
        line = LineString([tuple(start), tuple(seat)])
        short = v.name.removesuffix("村委会").removesuffix("居委会").removesuffix("村")
        name = "场部路" if "虚拟" in short else f"{short}村道"
        plan.village_road[vi] = add(name, "rural", v.town, line)
    return plan


def lengths(plan: RoadPlan) -> np.ndarray:
    return shapely.length(np.array(plan.geometry, dtype=object))
