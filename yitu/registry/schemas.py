"""API shapes for the registry. People leave the server only through
``yitu.people.schemas.person_dict`` (the masking serializer); addresses through
``mask_address``."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from yitu.access.masking import Tier, mask_address
from yitu.core.errors import YituError
from yitu.people.schemas import PersonOut, person_dict
from yitu.registry.models import Building, House, Organisation, PersonHouse, PersonOrg


class TooManyFeaturesError(YituError):
    status = 413
    title = "Too many features"


class RegistrySearch(BaseModel):
    """Exactly one key. Sent in the body so ID numbers and phones never appear in a URL."""

    id_number: str | None = Field(None, max_length=18)
    phone: str | None = Field(None, max_length=20)
    name: str | None = Field(None, max_length=50)
    address: str | None = Field(None, max_length=200, description="standard address prefix")
    limit: int = Field(20, ge=1, le=100)


class PersonPage(BaseModel):
    items: list[PersonOut]


class BuildingOut(BaseModel):
    id: int
    node_id: int
    name: str
    door_number: str
    use: str
    structure: str
    floors: int
    basement_floors: int
    height_m: float
    lon: float
    lat: float
    code: int
    code3d: str


def building_out(b: Building) -> BuildingOut:
    return BuildingOut(
        id=b.id, node_id=b.node_id, name=b.name, door_number=b.door_number, use=b.use,
        structure=b.structure, floors=b.floors, basement_floors=b.basement_floors,
        height_m=b.height_m, lon=b.lon, lat=b.lat, code=b.code, code3d=b.code3d,
    )


class Resident(BaseModel):
    person: PersonOut
    relation: str
    valid_from: date
    valid_to: date | None


class RoomOut(BaseModel):
    id: int
    unit: int
    floor: int
    number: str
    use: str
    area_m2: float
    code: int
    code3d: str
    layer: int
    residents: list[Resident]


class BuildingDetail(BaseModel):
    building: BuildingOut
    rooms: list[RoomOut]


def resident(person: Any, rel: PersonHouse, tier: Tier, today: date) -> Resident:
    return Resident(
        person=PersonOut(**person_dict(person, tier, today)),
        relation=rel.relation,
        valid_from=rel.valid_from,
        valid_to=rel.valid_to,
    )


def room_out(h: House, residents: list[Resident]) -> RoomOut:
    return RoomOut(
        id=h.id, unit=h.unit, floor=h.floor, number=h.number, use=h.use, area_m2=h.area_m2,
        code=h.code, code3d=h.code3d, layer=h.layer, residents=residents,
    )


class HouseLink(BaseModel):
    house_id: int
    building_id: int
    address: str
    relation: str
    valid_from: date
    valid_to: date | None
    current: bool
    code: int
    code3d: str


def house_link(rel: PersonHouse, h: House, address: str, tier: Tier, today: date) -> HouseLink:
    return HouseLink(
        house_id=h.id,
        building_id=h.building_id,
        address=mask_address(address, tier),
        relation=rel.relation,
        valid_from=rel.valid_from,
        valid_to=rel.valid_to,
        current=rel.valid_from <= today and (rel.valid_to is None or rel.valid_to > today),
        code=h.code,
        code3d=h.code3d,
    )


class OrgLink(BaseModel):
    org_id: int
    name: str
    credit_code: str
    kind: str
    relation: str
    valid_from: date
    valid_to: date | None


def org_link(rel: PersonOrg, org: Organisation) -> OrgLink:
    return OrgLink(
        org_id=org.id, name=org.name, credit_code=org.credit_code, kind=org.kind,
        relation=rel.relation, valid_from=rel.valid_from, valid_to=rel.valid_to,
    )


class PersonDetail(BaseModel):
    person: PersonOut
    registration_type: str
    care_tags: list[str]
    separation: list[str] = Field(description="人户分离: 户在人不在 and/or 人在户不在, derived")
    houses: list[HouseLink]
    organisations: list[OrgLink]


class BuildingHit(BaseModel):
    building: BuildingOut | None
    distance_m: float | None = None


class CellPeople(BaseModel):
    code: str
    population: dict[str, int]
    total: int


class GridCounts(BaseModel):
    code: str
    name: str
    level: str
    population: dict[str, int]
    population_total: int
    elderly_living_alone: int
    rooms: dict[str, int]
    buildings: int
    organisations: int


class TreeNode(BaseModel):
    code: str
    name: str
    level: str
    children: list[TreeNode]


class PolygonQuery(BaseModel):
    """A GeoJSON Polygon (lon/lat, closed rings) inside the county; validated by
    ``services.parse_query_polygon`` so every error names the field."""

    geometry: dict[str, Any] = Field(description="GeoJSON Polygon")


class OrgCreate(BaseModel):
    name: str = Field(max_length=100)
    credit_code: str = Field(max_length=18, description="统一社会信用代码 (GB 32100)")
    kind: str = Field(description="enterprise, individual_business, government, …")
    industry: str = Field("", max_length=40)
    employees: int = 0
    building_id: int | None = None
    lon: float
    lat: float
    node_code: str = Field(description="the jurisdiction node (网格) it belongs to")


class OrgUpdate(BaseModel):
    """The fields to change (absent: unchanged)."""

    name: str | None = Field(None, max_length=100)
    credit_code: str | None = Field(None, max_length=18)
    kind: str | None = None
    industry: str | None = Field(None, max_length=40)
    employees: int | None = None
    building_id: int | None = None
    lon: float | None = None
    lat: float | None = None


class OrgOut(BaseModel):
    id: int
    node_id: int
    name: str
    credit_code: str
    kind: str
    industry: str
    employees: int
    building_id: int | None
    lon: float
    lat: float
    code: int


def org_out(o: Organisation) -> OrgOut:
    return OrgOut(
        id=o.id, node_id=o.node_id, name=o.name, credit_code=o.credit_code, kind=o.kind,
        industry=o.industry, employees=o.employees, building_id=o.building_id, lon=o.lon,
        lat=o.lat, code=o.code,
    )
