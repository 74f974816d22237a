"""Assemble the demo county: geography → grids → roads → buildings/rooms/addresses → people →
organisations, as column arrays keyed by local (0-based) indices; ``load.py`` turns them into
rows with database ids."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from yitu.core.errors import InvalidInputError
from yitu.demo import buildings as bmod
from yitu.demo.geography import STREETS, County, build_county, geom_to_lonlat, ground_m, to_lonlat
from yitu.demo.names import HAMLET_SUFFIXES, SURNAMES
from yitu.demo.orgs import make_orgs
from yitu.demo.population import RURAL, SEAT, URBAN, populate
from yitu.demo.roads import clear_buildings, lengths, plan_roads
from yitu.grid import vector

SCALES = {"small": 0.01, "town": 0.1, "laohekou": 1.0}
PROVINCE_CITY = "湖北省老河口市"
TODAY = date(2026, 11, 26)

# Foreign keys held as local indices: (table, column) -> referenced table.
REFS = {
    ("buildings", "road_id"): "roads",
    ("houses", "building_id"): "buildings",
    ("addresses", "building_id"): "buildings",
    ("addresses", "house_id"): "houses",
    ("organisations", "building_id"): "buildings",
    ("organisations", "address_id"): "addresses",
    ("person_houses", "person_id"): "people",
    ("person_houses", "house_id"): "houses",
    ("person_orgs", "person_id"): "people",
    ("person_orgs", "org_id"): "organisations",
}
TABLE_ORDER = (
    "map_features",
    "roads",
    "buildings",
    "houses",
    "addresses",
    "people",
    "organisations",
    "person_houses",
    "person_orgs",
)


@dataclass
class GridNode:
    code: str
    name: str
    village: int


@dataclass
class Demo:
    scale: str
    seed: int
    county: County
    grids: list[GridNode]
    # (level, index, lon/lat geometry) for towns, villages, grids
    boundaries: list[tuple[str, int, BaseGeometry]]
    # table -> column -> array/list; node_id columns hold grid (or town, for roads) indexes
    tables: dict[str, dict[str, object]] = field(default_factory=dict)

    def count(self, table: str) -> int:
        cols = self.tables[table]
        return len(next(iter(cols.values())))  # type: ignore[arg-type]


def geojson(geom: BaseGeometry) -> str:
    # json.dumps writes floats with repr: the stored polygon is exactly the one tested against.
    return json.dumps(mapping(geom), separators=(",", ":"), ensure_ascii=False)


def _rank_in_group(groups: np.ndarray) -> np.ndarray:
    """0-based rank of each element within its group, in index order."""
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    start = np.r_[True, g[1:] != g[:-1]]
    first = np.flatnonzero(start)[np.cumsum(start) - 1]
    rank = np.empty(len(groups), np.int64)
    rank[order] = np.arange(len(groups)) - first
    return rank


def _within(points: np.ndarray, polys: list[BaseGeometry]) -> np.ndarray:
    """Index of the one polygon containing each point, -1 if none or several."""
    tree = shapely.STRtree(polys)
    pi, gi = tree.query(shapely.points(points), predicate="within")
    out = np.full(len(points), -1)
    counts = np.bincount(pi, minlength=len(points))
    single = counts[pi] == 1
    out[pi[single]] = gi[single]
    return out


def map_features(county: County) -> dict[str, object]:
    """The physical map layer: the Han River (汉江) along the county's west edge."""
    water = geom_to_lonlat(county.water)
    w, s, e, n = water.bounds
    return {
        "layer": ["water"],
        "kind": ["river"],
        "name": ["汉江"],
        "geometry": [geojson(water)],
        "centreline": [geojson(geom_to_lonlat(county.river))],
        "west": [w],
        "south": [s],
        "east": [e],
        "north": [n],
        "area_m2": [round(float(county.water.area), 1)],
    }


def check_args(scale: str, seed: int) -> float:
    if scale not in SCALES:
        raise InvalidInputError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    if seed < 0:
        raise InvalidInputError("seed must be a non-negative integer")
    return SCALES[scale]


def generate(scale: str, seed: int, step: Callable[[str], None] = lambda _s: None) -> Demo:
    factor = check_args(scale, seed)
    rng = np.random.default_rng(seed)
    step("geography")
    county = build_county(rng)
    plan = plan_roads(county, rng)
    b = bmod.place(county, factor, rng)
    b = b.take(clear_buildings(b, plan))  # no road runs through a building
    towns, villages = county.towns, county.villages
    village_ll = [geom_to_lonlat(v.polygon) for v in villages]
    lon, lat = to_lonlat(b.x, b.y)
    vil = _within(np.column_stack([lon, lat]), village_ll)
    keep = vil >= 0
    b, vil = b.take(keep), vil[keep]

    # Management grids (网格): urban communities ~400 households each, rural villages 1–3.
    step("grids")
    exp_hh = b.n_houses * 0.65 / max(factor, 1e-9)  # households at full scale, for the split
    hh_v = np.bincount(vil, weights=exp_hh, minlength=len(villages))
    grids: list[GridNode] = []
    grid_polys: list[BaseGeometry] = []
    for vi, v in enumerate(villages):
        mine = np.flatnonzero(vil == vi)
        if v.urban:
            k = max(1, round(hh_v[vi] / 400))
        else:
            k = 1 if hh_v[vi] < 350 else 2 if hh_v[vi] < 800 else 3
        k = max(1, min(k, len(mine) // 3))
        if k == 1:
            cells = [v.polygon]
        else:
            axis = np.argmax(np.ptp(np.column_stack([b.x[mine], b.y[mine]]), axis=0))
            coord = (b.x if axis == 0 else b.y)[mine]
            order = mine[np.argsort(coord, kind="stable")]
            cum = np.cumsum(exp_hh[order] + 1e-6)
            chunk = np.minimum((cum / cum[-1] * k).astype(int), k - 1)
            if len(np.unique(chunk)) < k:  # one huge building: split by count instead
                chunk = np.arange(len(order)) * k // len(order)
            seeds = np.array(
                [[b.x[order[chunk == c]].mean(), b.y[order[chunk == c]].mean()] for c in range(k)]
            )
            from yitu.demo.geography import voronoi_split

            cells = voronoi_split(v.polygon, seeds)
        for serial, cell in enumerate(cells, start=1):
            grids.append(GridNode(f"{v.code}{serial:03d}", f"{v.name}第{serial}网格", vi))
            grid_polys.append(geom_to_lonlat(cell))
    grid = _within(np.column_stack([lon[keep], lat[keep]]), grid_polys)
    ok = grid >= 0
    b, vil, grid = b.take(ok), vil[ok], grid[ok]
    grid_village = np.array([g.village for g in grids])
    ok = grid_village[grid] == vil
    b, vil, grid = b.take(ok), vil[ok], grid[ok]
    town_of_v = np.array([v.town for v in villages])
    town = town_of_v[vil]
    boundaries = [("town", i, geom_to_lonlat(t.polygon)) for i, t in enumerate(towns)]
    boundaries += [("village", i, g) for i, g in enumerate(village_ll)]
    boundaries += [("grid", i, g) for i, g in enumerate(grid_polys)]

    # Roads.
    step("roads")
    road_ll = [geom_to_lonlat(g) for g in plan.geometry]
    demo = Demo(scale, seed, county, grids, boundaries)
    demo.tables["map_features"] = map_features(county)
    demo.tables["roads"] = {
        "name": plan.name,
        "kind": plan.kind,
        "node_id": np.array(plan.town),
        "geometry": [geojson(g) for g in road_ll],
        "length_m": lengths(plan).round(1),
    }

    # Buildings.
    step("buildings")
    n_b = len(b.x)
    road = np.full(n_b, -1)
    street_idx = np.array(plan.urban + [r for ids in plan.seat_roads.values() for r in ids])
    tree = shapely.STRtree([plan.geometry[i] for i in street_idx])
    nearest = tree.query_nearest(shapely.points(np.column_stack([b.x, b.y])), all_matches=False)
    road[nearest[0]] = street_idx[nearest[1]]
    vroad = np.array([plan.village_road.get(int(v), -1) for v in range(len(villages))])
    rural = b.kind >= bmod.RURAL_HOUSE
    road = np.where(rural & (vroad[vil] >= 0), vroad[vil], road)
    door = _rank_in_group(road) + 1
    lon, lat = to_lonlat(b.x, b.y)
    ground = ground_m(b.x, b.y).round(2)
    height = (b.floors * b.floor_h).round(1)
    cx, cy = bmod.corners(b)
    clon, clat = to_lonlat(cx, cy)
    footprint = [
        '{"type":"Polygon","coordinates":[['
        + ",".join(f"[{x!r},{y!r}]" for x, y in zip(xs, ys, strict=True))
        + "]]}"
        for xs, ys in zip(clon.tolist(), clat.tolist(), strict=True)
    ]
    # 800 distinct names (100 surnames × 8 suffixes), cycled by a stride coprime to 800: a
    # village's hamlets (consecutive serials) never share a name, so every standard address
    # is unique (with 40 names, large villages had two 张家湾 and ambiguous addresses).
    hamlet_names = np.array(
        [
            SURNAMES[j % 100] + HAMLET_SUFFIXES[j // 100 % len(HAMLET_SUFFIXES)]
            for j in (h * 7 % 800 for h in range(int(b.hamlet.max()) + 1))
        ]
        or ["湾"]
    )
    in_hamlet = _rank_in_group(np.where(rural, b.hamlet, -1)) + 1
    in_village = _rank_in_group(np.where(b.kind == bmod.APARTMENT, vil, -1)) + 1
    name = np.where(
        rural,
        np.char.add(
            np.char.add(hamlet_names[np.maximum(b.hamlet, 0)], in_hamlet.astype(str)), "号"
        ),
        np.where(
            b.kind == bmod.APARTMENT,
            np.char.add(in_village.astype(str), "栋"),
            np.char.add(door.astype(str), "号楼"),
        ),
    )
    code_b = vector.encode_int(lon, lat, 10)
    code3d_b = vector.encode3d_str(lon, lat, ground, 10).astype("U32")
    demo.tables["buildings"] = {
        "node_id": grid,
        "name": name.tolist(),
        "road_id": road,
        "door_number": np.char.add(door.astype(str), "号").tolist(),
        "use": b.use.tolist(),
        "structure": b.structure.tolist(),
        "floors": b.floors,
        "basement_floors": b.basement,
        "height_m": height,
        "ground_m": ground,
        "footprint": footprint,
        "lon": lon,
        "lat": lat,
        "west": clon.min(axis=1),
        "south": clat.min(axis=1),
        "east": clon.max(axis=1),
        "north": clat.max(axis=1),
        "code": code_b,
        "code3d": code3d_b.tolist(),
    }

    # Rooms (户室): units × floors × rooms per floor; one home per farmhouse.
    step("rooms")
    nh = b.n_houses
    hb = np.repeat(np.arange(n_b), nh)
    k = np.arange(len(hb)) - np.repeat(np.cumsum(nh) - nh, nh)
    rpf = np.maximum(b.rooms_per_floor[hb], 1)
    per_unit = np.where(b.kind[hb] == bmod.RURAL_HOUSE, 1, b.floors[hb] * rpf)
    unit = k // per_unit + 1
    rem = k % per_unit
    floor = rem // rpf + 1
    room = rem % rpf + 1
    number = [f"{f:02d}{r:02d}" for f, r in zip(floor.tolist(), room.tolist(), strict=True)]
    t = ((unit - 0.5) / b.units[hb] - 0.5) * b.length[hb] * 0.8
    ang = np.radians(b.angle[hb])
    hx, hy = b.x[hb] + t * np.cos(ang), b.y[hb] + t * np.sin(ang)
    hlon, hlat = to_lonlat(hx, hy)
    hheight = (ground[hb] + (floor - 1) * b.floor_h[hb]).round(2)
    zone = np.select(
        [b.kind[hb] <= bmod.URBAN_LOW, b.kind[hb] == bmod.SEAT_RES], [URBAN, SEAT], RURAL
    )
    area = np.select(
        [zone == URBAN, zone == SEAT],
        [rng.uniform(55, 140, len(hb)), rng.uniform(70, 160, len(hb))],
        rng.uniform(110, 260, len(hb)),
    ).round(1)
    h_code = vector.encode_int(hlon, hlat, 10)
    h_code3d = vector.encode3d_str(hlon, hlat, hheight, 10).astype("U32")
    h_layer = vector.layer_indices(hheight)

    # Standard addresses (标准地址): one per building, one per room.
    step("addresses")
    tnames = np.array([t_.name for t_ in towns])
    vnames = np.array(
        [
            v.name.removesuffix("村委会").removesuffix("居委会")
            + ("村" if v.name.endswith("村委会") else "社区" if v.name.endswith("居委会") else "")
            for v in villages
        ]
    )
    rnames = np.array(plan.name)
    prefix = np.char.add(np.char.add(PROVINCE_CITY, tnames[town]), vnames[vil])
    b_full = np.where(
        rural,
        np.char.add(prefix, name),
        np.char.add(
            np.char.add(np.char.add(prefix, rnames[road]), np.char.add(door.astype(str), "号")),
            name,
        ),
    )
    r_full = np.where(
        b.kind[hb] == bmod.RURAL_HOUSE,
        b_full[hb],
        np.char.add(
            np.char.add(np.char.add(b_full[hb], unit.astype(str)), "单元"),
            np.char.add(np.array(number), "室"),
        ),
    )
    n_h = len(hb)
    demo.tables["addresses"] = {
        "node_id": np.concatenate([grid, grid[hb]]),
        "kind": ["building"] * n_b + ["room"] * n_h,
        "full_name": b_full.tolist() + r_full.tolist(),
        "road": rnames[road].tolist() + rnames[road[hb]].tolist(),
        "door_number": demo.tables["buildings"]["door_number"] * 1  # type: ignore[operator]
        + [demo.tables["buildings"]["door_number"][i] for i in hb.tolist()],  # type: ignore[index]
        "building_name": name.tolist() + name[hb].tolist(),
        "unit": [None] * n_b + unit.tolist(),
        "room": [""] * n_b + number,
        "building_id": np.concatenate([np.arange(n_b), hb]),
        "house_id": [None] * n_b + list(range(n_h)),
        "code": np.concatenate([code_b, h_code]),
        "code3d": code3d_b.tolist() + h_code3d.tolist(),
    }

    # People and their houses.
    step("people")
    pop = populate(zone, TODAY, rng)
    demo.tables["houses"] = {
        "node_id": grid[hb],
        "building_id": hb,
        "unit": unit,
        "floor": floor,
        "number": number,
        "use": pop.house_use.tolist(),
        "area_m2": area,
        "lon": hlon,
        "lat": hlat,
        "height_m": hheight,
        "code": h_code,
        "code3d": h_code3d.tolist(),
        "layer": h_layer,
    }
    n_p = len(pop.house)
    hukou_place = np.where(
        pop.registration == "hukou",
        np.char.add(
            np.char.add(PROVINCE_CITY, tnames[town[hb[pop.house]]]), vnames[vil[hb[pop.house]]]
        ),
        pop.place.astype(str),
    )
    created = np.datetime64("2026-11-01T08:00:00") + np.arange(n_p).astype("timedelta64[s]")
    demo.tables["people"] = {
        "node_id": grid[hb[pop.house]],
        "name": pop.name.tolist(),
        "id_number": pop.id_number.tolist(),
        "phone": pop.phone.tolist(),
        "address": r_full[pop.house].tolist(),
        "gender": pop.gender.tolist(),
        "birth_date": pop.birth.astype(object).tolist(),
        "registration_type": pop.registration.tolist(),
        "ethnicity": pop.ethnicity.tolist(),
        "hukou_place": hukou_place.tolist(),
        "care_tags": pop.care_tags.tolist(),
        "created_at": created.astype(object).tolist(),
    }
    reg = np.flatnonzero(pop.registered_house >= 0)
    past = pop.past
    ph_person = np.concatenate([np.arange(n_p), reg, pop.owner_person, past.person])
    ph_house = np.concatenate([pop.house, pop.registered_house[reg], pop.owner_house, past.house])
    ph_rel = (
        pop.relation.tolist()
        + ["registered"] * len(reg)
        + ["owner"] * len(pop.owner_house)
        + past.relation.tolist()
    )
    ref = np.datetime64(TODAY, "D")
    since = np.concatenate(
        [
            pop.moved_in,
            pop.birth[reg],
            ref - rng.integers(200, 25 * 365, len(pop.owner_house)).astype("timedelta64[D]"),
            past.valid_from,
        ]
    )
    n_current = len(ph_person) - len(past.person)
    until = [None] * n_current + past.valid_to.astype(object).tolist()
    src = np.array(
        ["入户走访", "网格采集", "出租屋登记", "户籍登记", "不动产登记", "境外人员住宿登记"]
    )
    resident_src = np.where(pop.relation == "tenant", src[2], src[rng.integers(0, 2, n_p)])
    resident_src = np.where(pop.registration == "foreign", src[5], resident_src)
    ph_src = np.concatenate(
        [
            resident_src,
            np.full(len(reg), src[3]),
            np.full(len(pop.owner_house), src[4]),
            np.full(len(past.person), "迁出注销"),
        ]
    )
    demo.tables["person_houses"] = {
        "node_id": grid[hb[ph_house]],
        "person_id": ph_person,
        "house_id": ph_house,
        "relation": ph_rel,
        "valid_from": since.astype(object).tolist(),
        "valid_to": until,
        "source": ph_src.tolist(),
        "code": h_code[ph_house],
        "code3d": h_code3d[ph_house].tolist(),
    }

    # Organisations.
    step("organisations")
    age_days = (ref - pop.birth).astype(np.int64)
    adults = np.flatnonzero((age_days >= 22 * 365) & (age_days < 62 * 365))
    street_towns = {i for i, t_ in enumerate(towns) if t_.code[:9] in STREETS}
    o = make_orgs(
        factor,
        b.use,
        town,
        vil,
        b.kind,
        list(tnames),
        [v.name for v in villages],
        street_towns,
        adults,
        rng,
    )
    demo.tables["organisations"] = {
        "node_id": grid[o.building],
        "name": o.name,
        "credit_code": o.credit_code,
        "kind": o.kind,
        "industry": o.industry,
        "building_id": o.building,
        "address_id": o.building,  # the building's address is address index = building index
        "employees": o.employees,
        "lon": lon[o.building],
        "lat": lat[o.building],
        "code": code_b[o.building],
    }
    demo.tables["person_orgs"] = {
        "node_id": grid[o.building[o.rel_org]],
        "person_id": o.rel_person,
        "org_id": o.rel_org,
        "relation": o.rel_kind,
        "valid_from": (ref - o.rel_since.astype("timedelta64[D]")).astype(object).tolist(),
        "valid_to": [None] * len(o.rel_org),
    }
    return demo
