"""Registry reads: search, building → rooms → residents, person → houses and organisations,
人户分离, grid counts, the region tree and map features. No permission logic here; the session's
jurisdiction scope filters every Jurisdictional table (``yitu.access.scope``). The two tables
that are not Jurisdictional (``jurisdiction_nodes``, ``node_boundaries``) are filtered by the
``scope`` argument explicitly."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import shapely
from shapely.geometry import Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity
from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from yitu.access.jurisdiction import get_node
from yitu.access.models import JurisdictionNode, Level
from yitu.access.scope import UNRESTRICTED, Scope
from yitu.core.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from yitu.grid import vector
from yitu.people.models import Person
from yitu.registry import spatial
from yitu.registry.codes import validate_credit_code
from yitu.registry.models import (
    RESIDENT_RELATIONS,
    Address,
    Building,
    House,
    HouseRelation,
    HouseUse,
    NodeBoundary,
    Organisation,
    OrgType,
    PersonHouse,
    PersonOrg,
)

_P = Person.__table__
_A = Address.__table__
_PH = PersonHouse.__table__
_PHONE = re.compile(r"^\+?\d[\d-]{4,19}$")
_RESIDENT = [r.value for r in RESIDENT_RELATIONS]
ELDERLY_ALONE = "elderly_alone"


def _visible(scope: object, node_id: int) -> bool:
    return scope is UNRESTRICTED or (isinstance(scope, Scope) and scope.contains(node_id))


def current(model: Any, today: date) -> ColumnElement[bool]:
    """A dated relation in force on ``today``."""
    return and_(
        model.valid_from <= today, or_(model.valid_to.is_(None), model.valid_to > today)
    )


def _search_statement(key: str) -> Callable[[spatial.Scoper | None], Select[Any]]:
    """The Core statement for one search key (compiled once per key and scope kind)."""

    def build(sc: spatial.Scoper | None) -> Select[Any]:
        p = _P.c
        if key == "address":
            houses = select(_A.c.house_id).where(
                _A.c.full_name.like(bindparam("v"), escape="/"),
                _A.c.house_id.is_not(None),
            )
            residents = select(_PH.c.person_id).where(
                _PH.c.house_id.in_(houses),
                _PH.c.relation.in_(bindparam("resident", expanding=True)),
                _PH.c.valid_from <= bindparam("today"),
                or_(_PH.c.valid_to.is_(None), _PH.c.valid_to > bindparam("today")),
            )
            if sc:
                houses = houses.where(sc(_A.c))
                residents = residents.where(sc(_PH.c))
            cond = p.id.in_(residents)
        else:
            cond = p[key] == bindparam("v")
        stmt = select(*spatial.PERSON_COLUMNS).where(cond)
        if sc:
            stmt = stmt.where(sc(p))
        return stmt.order_by(p.id).limit(bindparam("limit"))

    return build


def search_people(
    session: Session,
    today: date,
    *,
    id_number: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    address: str | None = None,
    limit: int = 20,
) -> tuple[list[Any], str]:
    """Exact lookup by one key; ``address`` matches a standard address by prefix (a building's
    address finds its rooms' residents). Returns rows of ``spatial.PERSON_COLUMNS`` (a Core
    select under the session's scope) and the key used (for the audit)."""
    keys = (("id_number", id_number), ("phone", phone), ("name", name), ("address", address))
    given = [k for k, v in keys if v]
    if len(given) != 1:
        raise InvalidInputError("give exactly one of id_number, phone, name or address")
    key = given[0]
    params: dict[str, Any] = {"limit": limit}
    if id_number:
        params["v"] = id_number.strip().upper()
    elif phone:
        if not _PHONE.match(phone.strip()):
            raise InvalidInputError("phone must be digits (optionally with '-' or a leading '+')")
        params["v"] = phone.strip()
    elif name:
        params["v"] = name.strip()
    else:
        prefix = (address or "").strip()
        if len(prefix) < 4:
            raise InvalidInputError("address must be at least 4 characters")
        escaped = prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")
        params.update(v=escaped + "%", resident=_RESIDENT, today=today)
    rows = spatial.execute(session, ("search", key), _search_statement(key), params).all()
    return list(rows), key


def get_building(session: Session, building_id: int) -> Building:
    b = session.get(Building, building_id)
    if b is None:  # the same answer for "absent" and "outside your jurisdiction"
        raise NotFoundError(f"building {building_id} not found")
    return b


@dataclass
class Room:
    house: House
    residents: list[tuple[Person, PersonHouse]] = field(default_factory=list)


def building_rooms(session: Session, building: Building, today: date) -> list[Room]:
    """Rooms by unit, floor, number, each with its current residents (scoped)."""
    houses = session.scalars(
        select(House)
        .where(House.building_id == building.id)
        .order_by(House.unit, House.floor, House.number)
    ).all()
    rooms = {h.id: Room(h) for h in houses}
    if rooms:
        rows = session.execute(
            select(Person, PersonHouse)
            .join(PersonHouse, PersonHouse.person_id == Person.id)
            .where(
                PersonHouse.house_id.in_(list(rooms)),
                PersonHouse.relation.in_(_RESIDENT),
                current(PersonHouse, today),
            )
            .order_by(PersonHouse.house_id, Person.id)
        ).all()
        for person, rel in rows:
            rooms[rel.house_id].residents.append((person, rel))
    return list(rooms.values())


def get_person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFoundError(f"person {person_id} not found")
    return person


def person_houses(session: Session, person_id: int) -> list[tuple[PersonHouse, House, str]]:
    """All relations (current and past) to houses visible in the scope, with the house address."""
    rows = session.execute(
        select(PersonHouse, House, Address.full_name)
        .join(House, House.id == PersonHouse.house_id)
        .outerjoin(Address, Address.house_id == House.id)
        .where(PersonHouse.person_id == person_id)
        .order_by(PersonHouse.valid_from, PersonHouse.id)
    ).all()
    return [(r[0], r[1], r[2] or "") for r in rows]


def person_orgs(session: Session, person_id: int) -> list[tuple[PersonOrg, Organisation]]:
    rows = session.execute(
        select(PersonOrg, Organisation)
        .join(Organisation, Organisation.id == PersonOrg.org_id)
        .where(PersonOrg.person_id == person_id)
        .order_by(PersonOrg.valid_from, PersonOrg.id)
    ).all()
    return [(r[0], r[1]) for r in rows]


def separation(
    links: list[tuple[PersonHouse, House, str]], today: date, registration_type: str
) -> list[str]:
    """人户分离, derived from the current relations: 户在人不在 — registered (户籍) at a house they
    do not live in; 人在户不在 — living in a house where they are not registered (a 流动/寄住
    person without a local registration is registered elsewhere by definition; a 户籍 person
    without a recorded registration is unknown, not flagged; 境外 is not 人户分离)."""

    def now(r: PersonHouse) -> bool:
        return r.valid_from <= today and (r.valid_to is None or r.valid_to > today)

    registered = {
        r.house_id for r, _, _ in links if now(r) and r.relation == HouseRelation.REGISTERED
    }
    lives = {r.house_id for r, _, _ in links if now(r) and r.relation in _RESIDENT}
    flags = []
    if registered - lives:
        flags.append("户在人不在")
    elsewhere = not registered and registration_type in ("floating", "lodging")
    if (registered and lives - registered) or (lives and elsewhere):
        flags.append("人在户不在")
    return flags


def _subtree_ids(session: Session, node: JurisdictionNode) -> Any:
    return select(JurisdictionNode.id).where(JurisdictionNode.path.startswith(node.path))


def node_in_scope(session: Session, scope: object, code: str) -> JurisdictionNode:
    node = get_node(session, code)
    if not _visible(scope, node.id):
        raise ForbiddenError(f"jurisdiction node {node.code} is outside your scope")
    return node


def grid_counts(session: Session, node: JurisdictionNode, today: date) -> dict[str, Any]:
    """Counts for a jurisdiction node and its subtree (a 网格, village, town or the county)."""
    ids = _subtree_ids(session, node)
    population = {
        str(k): int(v)
        for k, v in session.execute(
            select(Person.registration_type, func.count())
            .where(Person.node_id.in_(ids))
            .group_by(Person.registration_type)
        )
    }
    elderly_alone = int(
        session.scalar(
            select(func.count())
            .select_from(Person)
            .where(Person.node_id.in_(ids), Person.care_tags.contains(ELDERLY_ALONE))
        )
        or 0
    )
    rooms = {u.value: 0 for u in HouseUse}
    for k, v in session.execute(
        select(House.use, func.count()).where(House.node_id.in_(ids)).group_by(House.use)
    ):
        rooms[str(k)] = int(v)
    buildings = session.scalar(
        select(func.count()).select_from(Building).where(Building.node_id.in_(ids))
    )
    orgs = session.scalar(
        select(func.count()).select_from(Organisation).where(Organisation.node_id.in_(ids))
    )
    return {
        "code": node.code,
        "name": node.name,
        "level": node.level,
        "population": population,
        "population_total": sum(population.values()),
        "elderly_living_alone": elderly_alone,
        "rooms": rooms,
        "buildings": int(buildings or 0),
        "organisations": int(orgs or 0),
    }


def region_tree(session: Session, scope: object) -> list[dict[str, Any]]:
    """County > towns > villages > grids as nested dicts, only the nodes in the scope (a
    scope root appears at the top when its parent is outside)."""
    nodes = session.scalars(select(JurisdictionNode).order_by(JurisdictionNode.path)).all()
    out: dict[int, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for n in nodes:
        if not _visible(scope, n.id):
            continue
        item = {"code": n.code, "name": n.name, "level": n.level, "children": []}
        out[n.id] = item
        parent = out.get(n.parent_id) if n.parent_id is not None else None
        (parent["children"] if parent else roots).append(item)
    return roots


def building_feature(b: Building) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": b.id,
        "geometry": json.loads(b.footprint),
        "properties": {
            "id": b.id,
            "name": b.name,
            "use": b.use,
            "floors": b.floors,
            "node_id": b.node_id,
            "code": b.code,
            "code3d": b.code3d,
        },
    }


def grid_features(
    session: Session, scope: object, west: float, south: float, east: float, north: float,
    limit: int,
) -> list[dict[str, Any]]:
    """Boundaries of management grids (网格) in the scope whose bbox meets the box."""
    rows = session.execute(
        select(JurisdictionNode, NodeBoundary)
        .join(NodeBoundary, NodeBoundary.node_id == JurisdictionNode.id)
        .where(
            JurisdictionNode.level == Level.GRID.value,
            NodeBoundary.west <= east,
            NodeBoundary.east >= west,
            NodeBoundary.south <= north,
            NodeBoundary.north >= south,
        )
        .order_by(JurisdictionNode.id)
    ).all()
    out = []
    for node, boundary in rows:
        if not _visible(scope, node.id):
            continue
        out.append(
            {
                "type": "Feature",
                "id": node.id,
                "geometry": json.loads(boundary.geometry),
                "properties": {"code": node.code, "name": node.name, "area_m2": boundary.area_m2},
            }
        )
        if len(out) >= limit:
            break
    return out


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    parts = value.split(",")
    if len(parts) != 4:
        raise InvalidInputError("bbox must be four numbers: west,south,east,north")
    try:
        w, s, e, n = (float(p) for p in parts)
    except ValueError as exc:
        raise InvalidInputError("bbox must be four numbers: west,south,east,north") from exc
    if not (-180 <= w <= e <= 180 and -88 < s <= n < 88):
        raise InvalidInputError(
            "bbox must have -180 <= west <= east <= 180 and -88 < south <= north < 88"
        )
    return w, s, e, n


def check_point(lon: float, lat: float) -> None:
    if not (-180 <= lon <= 180 and -88 < lat < 88):
        raise InvalidInputError("lon must be in [-180, 180] and lat in (-88, 88)")



# --- polygon queries ---

#: Largest polygon a query may search (km², local equirectangular) and most vertices.
MAX_POLYGON_KM2 = 50.0
MAX_POLYGON_VERTICES = 2000


def _county_fingerprint(session: Session) -> tuple[Any, ...]:
    return tuple(session.execute(
        select(JurisdictionNode.level, func.count(), func.max(NodeBoundary.node_id),
               func.sum(NodeBoundary.area_m2))
        .join(NodeBoundary, NodeBoundary.node_id == JurisdictionNode.id)
        .group_by(JurisdictionNode.level)
        .order_by(JurisdictionNode.level),
        execution_options={"yitu_trusted": True},
    ).all())


_county_cache: dict[tuple[str, tuple[Any, ...]], BaseGeometry | None] = {}
_LEVEL_ORDER = (Level.TOWN.value, Level.VILLAGE.value, Level.GRID.value)


def county_area(session: Session) -> BaseGeometry | None:
    """The county's outline: the union of the boundaries at the coarsest level that has any
    (towns; a fixture with only grids: the grids). Cached per database, keyed by a cheap
    fingerprint of the boundary rows (count, max id, summed area per level), so a reload by
    another process is seen at once. Not scoped: an outline is not data."""
    fp = _county_fingerprint(session)
    key = (str(session.get_bind().url), fp)
    if key in _county_cache:
        return _county_cache[key]
    levels = {row[0] for row in fp}
    level = next((lv for lv in _LEVEL_ORDER if lv in levels), None)
    area = None
    if level is not None:
        rows = session.scalars(
            select(NodeBoundary.geometry)
            .join(JurisdictionNode, NodeBoundary.node_id == JurisdictionNode.id)
            .where(JurisdictionNode.level == level),
            execution_options={"yitu_trusted": True},
        ).all()
        area = shapely.union_all([shape(json.loads(g)) for g in rows]).buffer(0)
        shapely.prepare(area)
    if len(_county_cache) > 16:
        _county_cache.clear()
    _county_cache[key] = area
    return area


def _ring_problem(ring: Any, where: str) -> str | None:
    if not isinstance(ring, list) or len(ring) < 4:
        return f"{where} must be a list of at least 4 positions"
    for k, pos in enumerate(ring):
        if (
            not isinstance(pos, list | tuple)
            or len(pos) < 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pos[:2])
            or not all(math.isfinite(v) for v in pos[:2])
        ):
            return f"{where}[{k}] must be a [lon, lat] pair of finite numbers"
        if not (-180 <= pos[0] <= 180 and -88 < pos[1] < 88):
            return f"{where}[{k}] must have lon in [-180, 180] and lat in (-88, 88)"
    if list(ring[0][:2]) != list(ring[-1][:2]):
        return f"{where} is not closed: the last position must equal the first"
    return None


def parse_query_polygon(session: Session, geometry: Any, field: str = "geometry") -> Polygon:
    """A GeoJSON Polygon from a request, validated: type, closed rings of [lon, lat] numbers,
    valid (no self-intersection), at most ``MAX_POLYGON_VERTICES`` positions and
    ``MAX_POLYGON_KM2``, inside the county. Every error names the field."""
    if not isinstance(geometry, dict):
        raise InvalidInputError(f"{field} must be a GeoJSON Polygon object")
    if geometry.get("type") != "Polygon":
        raise InvalidInputError(f"{field}.type must be \"Polygon\"")
    rings = geometry.get("coordinates")
    if not isinstance(rings, list) or not rings:
        raise InvalidInputError(f"{field}.coordinates must be a non-empty list of rings")
    if sum(len(r) if isinstance(r, list) else 0 for r in rings) > MAX_POLYGON_VERTICES:
        raise InvalidInputError(
            f"{field} has more than {MAX_POLYGON_VERTICES} positions: simplify it"
        )
    for i, ring in enumerate(rings):
        problem = _ring_problem(ring, f"{field}.coordinates[{i}]")
        if problem:
            raise InvalidInputError(problem)
    poly = Polygon(rings[0], rings[1:])
    if not poly.is_valid:
        raise InvalidInputError(f"{field} is not a valid polygon: {explain_validity(poly)}")
    if poly.area == 0:
        raise InvalidInputError(f"{field} has no area")
    _, s, _, n = poly.bounds
    kx = math.cos(math.radians((s + n) / 2))
    km2 = poly.area * (kx * spatial.M_PER_DEG) * spatial.M_PER_DEG / 1e6
    if km2 > MAX_POLYGON_KM2:
        raise InvalidInputError(
            f"{field} covers {km2:.1f} km², more than the {MAX_POLYGON_KM2:g} km² limit: "
            "split it"
        )
    county = county_area(session)
    if county is None:
        raise InvalidInputError(f"{field} cannot be checked: no county boundary is loaded")
    if not county.buffer(1e-9).contains(poly):
        raise InvalidInputError(f"{field} must lie inside the county boundary")
    return poly


# --- organisations (实有单位) ---

ORG_FIELDS = ("name", "credit_code", "kind", "industry", "employees", "building_id", "lon", "lat")


def get_org(session: Session, org_id: int) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:  # the same answer for "absent" and "outside your jurisdiction"
        raise NotFoundError(f"organisation {org_id} not found")
    return org


def _org_values(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise the given organisation fields (errors name the field)."""
    out = dict(values)
    if "name" in out:
        out["name"] = str(out["name"]).strip()
        if not out["name"]:
            raise InvalidInputError("name must not be empty")
    if "credit_code" in out:
        out["credit_code"] = validate_credit_code(out["credit_code"])
    if "kind" in out and out["kind"] not in {k.value for k in OrgType}:
        raise InvalidInputError(f"kind must be one of: {', '.join(k.value for k in OrgType)}")
    if "employees" in out and out["employees"] < 0:
        raise InvalidInputError("employees must not be negative")
    if out.get("building_id") is not None:
        get_building(session, out["building_id"])  # 404 when absent or outside the scope
    return out


def _place(org: Organisation) -> None:
    try:
        check_point(org.lon, org.lat)
    except InvalidInputError as exc:
        raise InvalidInputError(f"lon/lat: {exc.detail}") from exc
    org.code = int(vector.encode_int([org.lon], [org.lat], 10)[0])


def _unique_credit_code(session: Session, code: str, org_id: int | None) -> None:
    # Trusted: a code taken outside the caller's scope is still taken (the message says no more).
    other = session.scalar(
        select(Organisation.id).where(Organisation.credit_code == code),
        execution_options={"yitu_trusted": True},
    )
    if other is not None and other != org_id:
        raise ConflictError("credit_code is already registered to another organisation")


def create_org(
    session: Session, scope: object, node_code: str, values: dict[str, Any]
) -> Organisation:
    """A new organisation in a jurisdiction node of the caller's scope."""
    node = node_in_scope(session, scope, node_code)
    v = _org_values(session, values)
    _unique_credit_code(session, v["credit_code"], None)
    org = Organisation(node_id=node.id, **v)
    _place(org)
    session.add(org)
    session.flush()
    return org


def update_org(
    session: Session, org_id: int, values: dict[str, Any]
) -> tuple[Organisation, list[str]]:
    """Change the given fields of a visible organisation; returns it and the changed fields."""
    org = get_org(session, org_id)
    v = _org_values(session, values)
    if "credit_code" in v:
        _unique_credit_code(session, v["credit_code"], org.id)
    changed = [k for k, val in v.items() if getattr(org, k) != val]
    for k in changed:
        setattr(org, k, v[k])
    if "lon" in changed or "lat" in changed:
        _place(org)
    session.flush()
    return org, changed
