"""A small fixture county for registry tests: buildings with known footprints near 老河口
(some straddling cell edges, some with their point exactly on a cell edge), rooms, people and
dated relations, on top of the foundation world (its grids, users and people)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from foundation.world import GRID_A, GRID_B, GRID_NEIGHBOUR, START, World
from shapely.geometry import Polygon, box, mapping

from yitu.access.jurisdiction import get_node
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.grid import encode3d, to_int
from yitu.grid.intcode import pair3d
from yitu.people.idnumber import make_id_number
from yitu.people.models import Person
from yitu.registry.codes import make_credit_code
from yitu.registry.models import (
    Address,
    Building,
    House,
    NodeBoundary,
    Organisation,
    PersonHouse,
    PersonOrg,
)

LON0, LAT0 = 111.6600, 32.3700
EDGE_LON = 111.675  # 111°40′30″: a level-7 (and coarser) cell edge
EDGE_LAT = 32.385  # 32°23′6″: a level-7 edge
TODAY = START.date()


@dataclass
class County:
    building_ids: list[int] = field(default_factory=list)
    footprints: dict[int, Polygon] = field(default_factory=dict)
    nodes: dict[int, str] = field(default_factory=dict)  # building id -> grid code
    person_ids: list[int] = field(default_factory=list)
    separated: set[int] = field(default_factory=set)  # registered in one house, living in another
    hukou: set[int] = field(default_factory=set)
    registered_at_home: set[int] = field(default_factory=set)
    elderly_alone: int = 0


def _grid_for(lon: float) -> str:
    if lon < 111.672:
        return GRID_A
    if lon < 111.684:
        return GRID_NEIGHBOUR
    return GRID_B


def _footprints() -> list[tuple[Polygon, tuple[float, float]]]:
    rng = np.random.default_rng(7)
    out: list[tuple[Polygon, tuple[float, float]]] = []
    for _ in range(70):
        x = LON0 + rng.uniform(0, 0.03)
        y = LAT0 + rng.uniform(0, 0.03)
        w = rng.uniform(0.0001, 0.0006)
        h = rng.uniform(0.0001, 0.0004)
        out.append((box(x, y, x + w, y + h), (x + w / 2, y + h / 2)))
    # an L-shaped building whose bbox corner is empty
    ell = Polygon([(111.680, 32.380), (111.6812, 32.380), (111.6812, 32.3804),
                   (111.6804, 32.3804), (111.6804, 32.3812), (111.680, 32.3812)])
    out.append((ell, (111.6802, 32.3802)))
    # straddling the level-7 edge both ways; point exactly on the edge
    out.append((box(EDGE_LON - 0.0002, EDGE_LAT - 0.0002, EDGE_LON + 0.0002, EDGE_LAT + 0.0002),
                (EDGE_LON, EDGE_LAT)))
    # a long building (the largest extent) across level-5 cells
    out.append((box(111.6610, 32.3900, 111.6650, 32.3906), (111.6630, 32.3903)))
    return out


def build_county(world: World) -> County:
    county = County()
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        nodes = {c: get_node(session, c) for c in (GRID_A, GRID_NEIGHBOUR, GRID_B)}
        for code, (w, e) in {GRID_A: (111.66, 111.672), GRID_NEIGHBOUR: (111.672, 111.684),
                             GRID_B: (111.684, 111.70)}.items():
            g = box(w, 32.36, e, 32.40)
            session.add(NodeBoundary(node_id=nodes[code].id, geometry=json.dumps(mapping(g)),
                                     west=w, south=32.36, east=e, north=32.40, area_m2=1.0))
        n = 0
        for i, (poly, (px, py)) in enumerate(_footprints()):
            grid = _grid_for(px)
            w, s, e, nn = poly.bounds
            code3d = encode3d(px, py, 60.0, 10)
            b = Building(
                node_id=nodes[grid].id, name=f"{i + 1}号楼", door_number=str(i + 1),
                use="residential", structure="frame", floors=3, basement_floors=0,
                height_m=9.0, ground_m=60.0, footprint=json.dumps(mapping(poly)), lon=px, lat=py,
                west=w, south=s, east=e, north=nn, code=to_int(_code(px, py)), code3d=code3d,
            )
            session.add(b)
            session.flush()
            county.building_ids.append(b.id)
            county.footprints[b.id] = poly
            county.nodes[b.id] = grid
            for floor in (1, 2):
                h3 = encode3d(px, py, 60.0 + 3 * (floor - 1), 10)
                code2d, layer = pair3d(h3)
                use = ("rented", "self_occupied", "vacant")[(i + floor) % 3]
                house = House(node_id=nodes[grid].id, building_id=b.id, unit=1, floor=floor,
                              number=f"{floor}01", use=use, area_m2=80.0, lon=px, lat=py,
                              height_m=60.0 + 3 * (floor - 1), code=code2d, code3d=h3,
                              layer=layer)
                session.add(house)
                session.flush()
                session.add(Address(node_id=nodes[grid].id, kind="room",
                                    full_name=f"光化街道幸福路{i + 1}号{i + 1}号楼1单元{floor}01室",
                                    road="幸福路", door_number=str(i + 1),
                                    building_name=f"{i + 1}号楼", unit=1, room=f"{floor}01",
                                    building_id=b.id, house_id=house.id, code=code2d,
                                    code3d=h3))
                if use == "vacant":
                    continue
                n += 1
                birth = date(1940 + n % 60, 1 + n % 12, 1 + n % 28)
                elderly = n % 5 == 0
                person = Person(
                    name="测试" + "甲乙丙丁戊己庚辛"[n % 8] + str(n), id_number=make_id_number(
                        "420682", birth, n), phone=f"1390000{n:04d}",
                    address=f"光化街道幸福路{i + 1}号{i + 1}号楼1单元{floor}01室", gender="M",
                    birth_date=birth, node_id=nodes[grid].id,
                    registration_type=("hukou", "floating", "lodging", "foreign")[n % 4],
                    care_tags="elderly_alone" if elderly else "", created_at=START,
                )
                county.elderly_alone += elderly
                session.add(person)
                session.flush()
                county.person_ids.append(person.id)
                relation = "tenant" if use == "rented" else "householder"
                session.add(PersonHouse(node_id=nodes[grid].id, person_id=person.id,
                                        house_id=house.id, relation=relation,
                                        valid_from=date(2020, 1, 1), code=code2d, code3d=h3))
                # a past relation must not count
                session.add(PersonHouse(node_id=nodes[grid].id, person_id=person.id,
                                        house_id=house.id, relation="lodger",
                                        valid_from=date(2010, 1, 1), valid_to=date(2015, 1, 1),
                                        code=code2d, code3d=h3))
                if person.registration_type == "hukou":
                    county.hukou.add(person.id)
                if n % 7 == 0:
                    # floor 2: registered at the floor-1 house (人户分离); floor 1: at home
                    if floor == 2:
                        county.separated.add(person.id)
                    else:
                        county.registered_at_home.add(person.id)
                    session.add(PersonHouse(node_id=nodes[grid].id, person_id=person.id,
                                            house_id=house.id - 1 if floor == 2 else house.id,
                                            relation="registered", valid_from=date(2000, 1, 1),
                                            code=code2d, code3d=h3))
            if i % 10 == 0:
                org = Organisation(node_id=nodes[grid].id, name=f"测试商贸有限公司{i}",
                                   credit_code=make_credit_code("420682", i), kind="enterprise",
                                   building_id=b.id, lon=px, lat=py, code=b.code)
                session.add(org)
                session.flush()
                if county.person_ids:
                    session.add(PersonOrg(node_id=nodes[grid].id,
                                          person_id=county.person_ids[-1], org_id=org.id,
                                          relation="legal_representative",
                                          valid_from=date(2021, 5, 1)))
    return county


def _code(lon: float, lat: float) -> str:
    from yitu.grid import encode

    return encode(lon, lat, 10)
