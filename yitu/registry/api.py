"""HTTP API for the registry (一标三实) under ``/api/v1/registry``. People leave masked for the
caller's role and purpose; every read of personal data is audited (ids, fields, purpose; for a
search the key used, never its value). Map and count endpoints carry no personal data; they are
open to the roles that read people (the three admins and the court liaison see none)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from yitu.access.deps import get_platform, requires, scoped_change, scoped_session
from yitu.access.masking import Purpose, Tier, tier_for
from yitu.access.principal import Principal
from yitu.access.roles import Permission
from yitu.audit.chain import Entry
from yitu.core.errors import InvalidInputError
from yitu.grid.errors import GridError
from yitu.people.schemas import FIELDS_BY_TIER, PersonOut, person_dict
from yitu.registry import services, spatial
from yitu.registry.schemas import (
    BuildingDetail,
    BuildingHit,
    CellPeople,
    GridCounts,
    OrgCreate,
    OrgOut,
    OrgUpdate,
    PersonDetail,
    PersonPage,
    PolygonQuery,
    RegistrySearch,
    TooManyFeaturesError,
    TreeNode,
    building_out,
    house_link,
    org_link,
    org_out,
    resident,
    room_out,
)
from yitu.runtime import Platform

router = APIRouter(prefix="/registry", tags=["registry"])

PlatformDep = Annotated[Platform, Depends(get_platform)]
Reader = Annotated[Principal, Depends(requires(Permission.PERSON_LIST))]
Detail = Annotated[Principal, Depends(requires(Permission.PERSON_DETAIL))]
Searcher = Annotated[Principal, Depends(requires(Permission.PERSON_SEARCH))]
OrgWriter = Annotated[Principal, Depends(requires(Permission.ORG_WRITE))]
Lon = Annotated[float, Query(ge=-180, le=180)]
Lat = Annotated[float, Query(gt=-88, lt=88)]
BBox = Annotated[str, Query(description="west,south,east,north in degrees")]

#: The most features one GeoJSON answer may hold; a larger viewport is refused with 413.
MAX_FEATURES = 5000


def _today(platform: Platform) -> date:
    return platform.clock.now().date()


def _audit(
    platform: Platform, principal: Principal, action: str, ids: list[int], tier: Tier,
    purpose: Purpose, detail: str = "",
) -> None:
    platform.audit.record(
        Entry(
            action,
            principal.actor,
            object_type="person",
            object_ids=ids,
            fields=FIELDS_BY_TIER[tier],
            purpose=purpose.value,
            detail=detail,
        )
    )


@router.post("/people/search", response_model=PersonPage, summary="Search people (masked L1)")
async def search(body: RegistrySearch, platform: PlatformDep, principal: Searcher) -> PersonPage:
    tier = tier_for(principal.role, Purpose.LIST)

    def work() -> PersonPage:
        today = _today(platform)
        with scoped_session(platform, principal) as session:
            rows, by = services.search_people(
                session, today, id_number=body.id_number, phone=body.phone, name=body.name,
                address=body.address, limit=body.limit,
            )
            items = [PersonOut(**person_dict(p, tier, today)) for p in rows]
        _audit(platform, principal, "search", [p.id for p in items], tier, Purpose.LIST,
               detail=f"registry by {by}")
        return PersonPage(items=items)

    return await platform.call(work)


@router.get("/people/{person_id}", response_model=PersonDetail,
            summary="A person with houses, organisations and 人户分离 (masked L2, audited)")
async def person_detail(person_id: int, platform: PlatformDep, principal: Detail) -> PersonDetail:
    tier = tier_for(principal.role, Purpose.DETAIL)

    def work() -> PersonDetail:
        today = _today(platform)
        with scoped_session(platform, principal) as session:
            person = services.get_person(session, person_id)
            links = services.person_houses(session, person_id)
            orgs = services.person_orgs(session, person_id)
            out = PersonDetail(
                person=PersonOut(**person_dict(person, tier, today)),
                registration_type=person.registration_type,
                care_tags=[t for t in person.care_tags.split(",") if t],
                separation=services.separation(links, today, person.registration_type),
                houses=[house_link(r, h, a, tier, today) for r, h, a in links],
                organisations=[org_link(r, o) for r, o in orgs],
            )
        _audit(platform, principal, "view", [person_id], tier, Purpose.DETAIL,
               detail="registry person detail")
        return out

    return await platform.call(work)


@router.get("/buildings/at", response_model=BuildingHit, summary="The building containing a point")
async def building_at(lon: Lon, lat: Lat, platform: PlatformDep, principal: Reader) -> BuildingHit:
    def work() -> BuildingHit:
        with scoped_session(platform, principal) as session:
            b = spatial.building_containing(session, lon, lat)
            return BuildingHit(building=building_out(b) if b else None)

    return await platform.call(work)


@router.get("/buildings/nearest", response_model=BuildingHit,
            summary="The building with the nearest footprint (distance in metres, 0 inside)")
async def building_nearest(
    lon: Lon, lat: Lat, platform: PlatformDep, principal: Reader
) -> BuildingHit:
    def work() -> BuildingHit:
        with scoped_session(platform, principal) as session:
            hit = spatial.nearest_building(session, lon, lat)
            if hit is None:
                return BuildingHit(building=None)
            return BuildingHit(building=building_out(hit[0]), distance_m=round(hit[1], 3))

    return await platform.call(work)


@router.get("/buildings/{building_id}", response_model=BuildingDetail,
            summary="A building, its rooms by unit and floor, and their residents (masked L1)")
async def building_detail(
    building_id: int, platform: PlatformDep, principal: Reader
) -> BuildingDetail:
    tier = tier_for(principal.role, Purpose.LIST)

    def work() -> BuildingDetail:
        today = _today(platform)
        with scoped_session(platform, principal) as session:
            b = services.get_building(session, building_id)
            rooms = services.building_rooms(session, b, today)
            out = BuildingDetail(
                building=building_out(b),
                rooms=[
                    room_out(r.house, [resident(p, rel, tier, today) for p, rel in r.residents])
                    for r in rooms
                ],
            )
        ids = sorted({p.person.id for r in out.rooms for p in r.residents})
        if ids:
            _audit(platform, principal, "view", ids, tier, Purpose.LIST,
                   detail=f"registry building {building_id} residents")
        return out

    return await platform.call(work)


def _cell_code(code: str) -> str:
    try:
        spatial.ranges_for_cell(code)
    except GridError as exc:
        raise InvalidInputError(f"cell code is not a valid BeiDou 2D code: {exc}") from exc
    return code.upper()


@router.get("/cells/{code}/people", response_model=CellPeople,
            summary="Residents of a BeiDou grid cell (any level), counted by registration type")
async def cell_people(code: str, platform: PlatformDep, principal: Reader) -> CellPeople:
    cell = _cell_code(code)

    def work() -> CellPeople:
        with scoped_session(platform, principal) as session:
            counts = spatial.count_people_in_cell(session, cell, _today(platform))
        return CellPeople(code=cell, population=counts, total=sum(counts.values()))

    return await platform.call(work)


@router.get("/grids/{code}/counts", response_model=GridCounts,
            summary="Counts for a jurisdiction node (网格 or above) and its subtree")
async def grid_counts(code: str, platform: PlatformDep, principal: Reader) -> GridCounts:
    def work() -> GridCounts:
        with scoped_session(platform, principal) as session:
            node = services.node_in_scope(session, principal.scope, code)
            return GridCounts(**services.grid_counts(session, node, _today(platform)))

    return await platform.call(work)


@router.get("/tree", response_model=list[TreeNode], summary="The region tree in your scope")
async def tree(platform: PlatformDep, principal: Reader) -> list[TreeNode]:
    def work() -> list[TreeNode]:
        with scoped_session(platform, principal) as session:
            return [TreeNode(**n) for n in services.region_tree(session, principal.scope)]

    return await platform.call(work)


def _collection(features: list[dict[str, Any]]) -> JSONResponse:
    if len(features) > MAX_FEATURES:
        raise TooManyFeaturesError(
            f"the bbox holds more than {MAX_FEATURES} features: zoom in or split the bbox"
        )
    return JSONResponse(
        {"type": "FeatureCollection", "features": features},
        media_type="application/geo+json",
    )


@router.get("/geojson/buildings", summary="Building footprints in a bbox (GeoJSON)")
async def buildings_geojson(bbox: BBox, platform: PlatformDep, principal: Reader) -> JSONResponse:
    w, s, e, n = services.parse_bbox(bbox)

    def work() -> list[dict[str, Any]]:
        with scoped_session(platform, principal) as session:
            rows = spatial.buildings_in_bbox(session, w, s, e, n, limit=MAX_FEATURES + 1)
            return [services.building_feature(b) for b in rows]

    return _collection(await platform.call(work))


@router.get("/geojson/grids", summary="Management grid (网格) boundaries in a bbox (GeoJSON)")
async def grids_geojson(bbox: BBox, platform: PlatformDep, principal: Reader) -> JSONResponse:
    w, s, e, n = services.parse_bbox(bbox)

    def work() -> list[dict[str, Any]]:
        with scoped_session(platform, principal) as session:
            return services.grid_features(
                session, principal.scope, w, s, e, n, limit=MAX_FEATURES + 1
            )

    return _collection(await platform.call(work))


@router.post("/buildings/in-polygon", summary="Building footprints meeting a polygon (GeoJSON)")
async def buildings_in_polygon(
    body: PolygonQuery, platform: PlatformDep, principal: Reader
) -> JSONResponse:
    """Footprints intersecting a GeoJSON Polygon (boundary included), found on code ranges.
    The polygon must be closed, valid, inside the county and at most
    ``services.MAX_POLYGON_KM2``; more than ``MAX_FEATURES`` buildings → 413."""

    def work() -> list[dict[str, Any]]:
        with scoped_session(platform, principal) as session:
            poly = services.parse_query_polygon(session, body.geometry)
            rows = spatial.buildings_in_polygon(session, poly, limit=MAX_FEATURES + 1)
            return [services.building_feature(b) for b in rows]

    return _collection(await platform.call(work))


def _org_entry(principal: Principal, action: str, org_id: int, fields: list[str]) -> Entry:
    return Entry(action, principal.actor, object_type="organisation", object_ids=[org_id],
                 fields=fields, purpose="register")


@router.get("/organisations/{org_id}", response_model=OrgOut, summary="An organisation")
async def org_detail(org_id: int, platform: PlatformDep, principal: Reader) -> OrgOut:
    def work() -> OrgOut:
        with scoped_session(platform, principal) as session:
            return org_out(services.get_org(session, org_id))

    return await platform.call(work)


@router.post("/organisations", response_model=OrgOut, status_code=201,
             summary="Register an organisation (统一社会信用代码 checked by GB 32100; audited)")
async def org_create(body: OrgCreate, platform: PlatformDep, principal: OrgWriter) -> OrgOut:
    def work() -> OrgOut:
        values = body.model_dump(exclude={"node_code"})
        with scoped_change(platform, principal) as change:  # the organisation and its record
            out = org_out(
                services.create_org(change.session, principal.scope, body.node_code, values)
            )
            change.record(_org_entry(principal, "create", out.id, sorted(values)))
        return out

    return await platform.call(work)


@router.patch("/organisations/{org_id}", response_model=OrgOut,
              summary="Change an organisation's fields (audited with the fields changed)")
async def org_update(
    org_id: int, body: OrgUpdate, platform: PlatformDep, principal: OrgWriter
) -> OrgOut:
    def work() -> OrgOut:
        values = body.model_dump(exclude_unset=True)
        for k, v in values.items():
            if v is None and k != "building_id":
                raise InvalidInputError(f"{k} must not be null")
        with scoped_change(platform, principal) as change:  # the update and its record
            org, changed = services.update_org(change.session, org_id, values)
            out = org_out(org)
            if changed:
                change.record(_org_entry(principal, "update", org_id, sorted(changed)))
            else:
                change.nothing_changed()
        return out

    return await platform.call(work)
