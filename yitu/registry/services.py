"""Registry reads: search, building → rooms → residents, person → houses and organisations,
人户分离, grid counts, the region tree and map features. No permission logic here; the session's
jurisdiction scope filters every Jurisdictional table (``yitu.access.scope``). The two tables
that are not Jurisdictional (``jurisdiction_nodes``, ``node_boundaries``) are filtered by the
``scope`` argument explicitly."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from yitu.access.jurisdiction import get_node
from yitu.access.models import JurisdictionNode, Level
from yitu.access.scope import UNRESTRICTED, Scope
from yitu.core.errors import ForbiddenError, InvalidInputError, NotFoundError
from yitu.people.models import Person
from yitu.registry.models import (
    RESIDENT_RELATIONS,
    Address,
    Building,
    House,
    HouseRelation,
    HouseUse,
    NodeBoundary,
    Organisation,
    PersonHouse,
    PersonOrg,
)

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


def search_people(
    session: Session,
    today: date,
    *,
    id_number: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    address: str | None = None,
    limit: int = 20,
) -> tuple[list[Person], str]:
    """Exact lookup by one key; ``address`` matches a standard address by prefix (a building's
    address finds its rooms' residents). Returns the rows and the key used (for the audit)."""
    keys = (("id_number", id_number), ("phone", phone), ("name", name), ("address", address))
    given = [k for k, v in keys if v]
    if len(given) != 1:
        raise InvalidInputError("give exactly one of id_number, phone, name or address")
    stmt = select(Person)
    if id_number:
        stmt = stmt.where(Person.id_number == id_number.strip().upper())
    elif phone:
        if not _PHONE.match(phone.strip()):
            raise InvalidInputError("phone must be digits (optionally with '-' or a leading '+')")
        stmt = stmt.where(Person.phone == phone.strip())
    elif name:
        stmt = stmt.where(Person.name == name.strip())
    else:
        prefix = (address or "").strip()
        if len(prefix) < 4:
            raise InvalidInputError("address must be at least 4 characters")
        houses = select(Address.house_id).where(
            Address.full_name.startswith(prefix, autoescape=True), Address.house_id.is_not(None)
        )
        residents = select(PersonHouse.person_id).where(
            PersonHouse.house_id.in_(houses),
            PersonHouse.relation.in_(_RESIDENT),
            current(PersonHouse, today),
        )
        stmt = stmt.where(Person.id.in_(residents))
    return list(session.scalars(stmt.order_by(Person.id).limit(limit))), given[0]


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

