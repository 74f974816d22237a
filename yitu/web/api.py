"""HTTP endpoints of the map UI under ``/api/v1``: vector tiles, the map's configuration and the
map search (addresses, grid codes, jurisdiction nodes). People are never served here: person
search and building residents go through the registry API, which masks and audits."""

from __future__ import annotations

import hashlib
import re
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import or_, select

from yitu.access.deps import get_platform, requires, scoped_session
from yitu.access.models import JurisdictionNode
from yitu.access.principal import Principal
from yitu.access.roles import Permission
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED, Scope
from yitu.cases.errors import field_error
from yitu.grid import GridError, cell_bbox, decode, encode, normalize
from yitu.registry.models import Address, Building
from yitu.runtime import Platform
from yitu.web import casemap, tiles
from yitu.web.settings import web_settings

router = APIRouter(tags=["map"])

PlatformDep = Annotated[Platform, Depends(get_platform)]
# The map shows what the registry's map endpoints show: the roles that read the registry.
Reader = Annotated[Principal, Depends(requires(Permission.PERSON_LIST))]

MVT_TYPE = "application/vnd.mapbox-vector-tile"
#: Browsers may reuse a tile this long without asking; after that they revalidate by ETag.
TILE_MAX_AGE = 60


def tile_cache(platform: Platform) -> tiles.TileCache:
    """One cache per platform (per database): tests build several platforms in one process."""
    cache = getattr(platform, "_yitu_tile_cache", None)
    if cache is None:
        cache = tiles.TileCache()
        platform._yitu_tile_cache = cache  # type: ignore[attr-defined]
    return cache


def _etag(scope_ids: frozenset[int], version: str, z: int, x: int, y: int) -> str:
    h = hashlib.sha256(f"{version}|{z}/{x}/{y}|".encode())
    h.update(",".join(map(str, sorted(scope_ids))).encode())
    return f'"{h.hexdigest()[:32]}"'


def _tile_response(tile: tiles.Tile, request: Request) -> Response:
    headers = {
        "ETag": tile.etag,
        # private: a tile is scoped to its user's jurisdiction; shared caches must not keep it
        "Cache-Control": f"private, max-age={TILE_MAX_AGE}",
        "Vary": "Authorization",
    }
    if request.headers.get("if-none-match") == tile.etag:
        return Response(status_code=304, headers=headers)
    return Response(tile.data, media_type=MVT_TYPE, headers=headers)


@router.get("/tiles/{z}/{x}/{y}.mvt", summary="A vector tile (MVT) of the county in your scope",
            response_class=Response,
            responses={200: {"content": {MVT_TYPE: {}}}, 304: {"description": "not modified"}})
async def tile(
    z: int, x: int, y: int, request: Request, platform: PlatformDep, principal: Reader
) -> Response:
    tiles.check_tile(z, x, y)
    cache = tile_cache(platform)

    def work() -> tiles.Tile:
        with scoped_session(platform, principal) as session:
            version = cache.version(session)
            key = (principal.scope.node_ids, version, z, x, y)
            hit = cache.get(key)
            if hit is not None:
                return hit
            small = cache.small(session, version)
            roads = cache.visible_roads(session, version, principal.scope)
            data = tiles.build_tile(session, small, roads, principal.scope, z, x, y)
        built = tiles.Tile(data, _etag(principal.scope.node_ids, version, z, x, y),
                           time.monotonic())
        cache.put(key, built)
        return built

    return _tile_response(await platform.call(work), request)


@router.get("/tiles/public/{z}/{x}/{y}.mvt",
            summary="A public vector tile: the physical map only (for the citizen page)",
            response_class=Response,
            responses={200: {"content": {MVT_TYPE: {}}}, 304: {"description": "not modified"}})
async def public_tile(z: int, x: int, y: int, request: Request, platform: PlatformDep) -> Response:
    """The whole county's boundaries, roads, water, building footprints and grid cells — what
    any printed map shows, with no personal data and no case. One shared cache entry per tile."""
    tiles.check_tile(z, x, y)
    cache = tile_cache(platform)

    def work() -> tiles.Tile:
        with platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
            version = cache.version(session)
            key = ("public", version, z, x, y)
            hit = cache.get(key)
            if hit is not None:
                return hit
            small = cache.small(session, version)
            everything = Scope(frozenset(int(n) for n in small.boundary_nodes))
            data = tiles.build_tile(session, small, small.road_ids, everything, z, x, y)
        etag = f'"{hashlib.sha256(f"public|{version}|{z}/{x}/{y}".encode()).hexdigest()[:32]}"'
        built = tiles.Tile(data, etag, time.monotonic())
        cache.put(key, built)
        return built

    tile = await platform.call(work)
    headers = {"ETag": tile.etag, "Cache-Control": f"public, max-age={TILE_MAX_AGE}"}
    if request.headers.get("if-none-match") == tile.etag:
        return Response(status_code=304, headers=headers)
    return Response(tile.data, media_type=MVT_TYPE, headers=headers)


class MapConfig(BaseModel):
    basemap_url: str = Field(description="raster tile URL template; empty: no basemap")
    basemap_attribution: str
    tiles: str = Field(description="vector tile URL template (relative to the site)")
    public_tiles: str = Field(description="the public tiles (physical map) for the citizen page")
    bounds: list[float] | None = Field(description="west, south, east, north of the county")
    buildings_min_zoom: int
    tile_max_zoom: int


@router.get("/map/config", response_model=MapConfig, summary="What the map page needs to start")
async def map_config(platform: PlatformDep) -> MapConfig:
    # Public: the page reads it before login. Only the county's outline bounds leave here.
    cache = tile_cache(platform)

    def work() -> list[float] | None:
        with platform.db.session() as session:
            small = cache.small(session, cache.version(session))
        return list(small.bounds) if small.bounds else None

    settings = web_settings()
    return MapConfig(
        basemap_url=settings.basemap_url,
        basemap_attribution=settings.basemap_attribution,
        tiles="/api/v1/tiles/{z}/{x}/{y}.mvt",
        public_tiles="/api/v1/tiles/public/{z}/{x}/{y}.mvt",
        bounds=await platform.call(work),
        buildings_min_zoom=tiles.BUILDINGS_MIN_ZOOM,
        tile_max_zoom=16,
    )


class MapSearch(BaseModel):
    q: str = Field(min_length=1, max_length=100, description="address text, grid code, node")
    limit: int = Field(10, ge=1, le=50)


class AddressHit(BaseModel):
    address_id: int
    full_name: str
    building_id: int
    lon: float
    lat: float


class CellHit(BaseModel):
    code: str
    level: int
    bbox: list[float]


class NodeHit(BaseModel):
    code: str
    name: str
    level: str
    bbox: list[float] | None


class MapSearchResult(BaseModel):
    addresses: list[AddressHit]
    cell: CellHit | None
    nodes: list[NodeHit]


_CELL = re.compile(r"^[NS]\d{2}[A-V]", re.IGNORECASE)
_NODE_CODE = re.compile(r"^\d{6,15}$")


def _cell(q: str) -> CellHit | None:
    if not _CELL.match(q):
        return None
    try:
        code = normalize(q)
        w, s, e, n = cell_bbox(code, 2)
        level = decode(code).level
    except (GridError, ValueError):
        return None
    return CellHit(code=code, level=level, bbox=[w, s, e, n])


@router.post("/map/search", response_model=MapSearchResult,
             summary="Find addresses (building level), a BeiDou grid code, or a jurisdiction node")
async def map_search(body: MapSearch, platform: PlatformDep, principal: Reader) -> MapSearchResult:
    q = body.q.strip()
    cache = tile_cache(platform)

    def work() -> MapSearchResult:
        with scoped_session(platform, principal) as session:
            rows = session.execute(
                select(Address.id, Address.full_name, Address.building_id, Building.lon,
                       Building.lat)
                .join(Building, Building.id == Address.building_id)
                .where(Address.kind == "building",
                       Address.full_name.contains(q, autoescape=True))
                .order_by(Address.id)
                .limit(body.limit)
            ).all()
            node_filter = (JurisdictionNode.code.startswith(q) if _NODE_CODE.match(q)
                           else JurisdictionNode.name.contains(q, autoescape=True))
            nodes = session.scalars(
                select(JurisdictionNode).where(or_(node_filter))
                .order_by(JurisdictionNode.path).limit(body.limit * 4)
            ).all()
            small = cache.small(session, cache.version(session))
        visible = [n for n in nodes if principal.scope.contains(n.id)][: body.limit]
        where = {int(node): i for i, node in enumerate(small.boundary_nodes)}

        def bbox(node_id: int) -> list[float] | None:
            i = where.get(node_id)
            return None if i is None else list(small.boundary_geoms[i].bounds)
        return MapSearchResult(
            addresses=[AddressHit(address_id=r[0], full_name=r[1], building_id=r[2], lon=r[3],
                                  lat=r[4]) for r in rows],
            cell=_cell(q),
            nodes=[NodeHit(code=n.code, name=n.name, level=n.level, bbox=bbox(n.id))
                   for n in visible],
        )

    return await platform.call(work)



@router.get("/map/cell", response_model=CellHit,
            summary="The BeiDou cell at a point, at the level the map shows at this zoom")
async def cell_at(
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(gt=-88, lt=88)],
    zoom: Annotated[int | None, Query(ge=0, le=tiles.MAX_ZOOM)] = None,
    level: Annotated[int | None, Query(ge=1, le=10, description="overrides zoom")] = None,
) -> CellHit:
    # Public (the citizen page shows the grid code of the place it reports): a pure
    # computation of the grid library, reading nothing. ``level`` 10 gives the code the
    # cases API stores as an integer (the case panel shows it as text).
    if level is None:
        if zoom is None:
            raise field_error("zoom", "zoom or level is required")
        level = tiles.cell_level_for_zoom(zoom)
    code = encode(lon, lat, level)
    w, s, e, n = cell_bbox(code, 2)
    return CellHit(code=code, level=level, bbox=[w, s, e, n])


# Cases on the map, the command panel's figures and the citizen page's public calls.
router.include_router(casemap.router)
