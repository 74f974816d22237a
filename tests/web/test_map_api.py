"""The map's endpoints (config, search, cell at a point) and the pages: served from the package,
nothing from a CDN, scoped like the registry."""

from __future__ import annotations

import re

import pytest
from foundation.world import GRID_A, World
from sqlalchemy import select

from yitu.access.jurisdiction import get_node
from yitu.access.roles import Role
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.grid import cell_bbox, encode
from yitu.registry.models import Address, Building
from yitu.web import settings as web_settings


def test_config_names_the_tiles_and_the_county_bounds(map_world: World) -> None:
    cfg = map_world.client.get("/api/v1/map/config").json()
    assert cfg["tiles"] == "/api/v1/tiles/{z}/{x}/{y}.mvt"
    assert cfg["basemap_url"] == ""
    w, s, e, n = cfg["bounds"]
    assert 111.4 < w < e < 112.3 and 32.1 < s < n < 32.8  # 老河口市


def test_basemap_url_comes_from_the_environment(map_world: World,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://tiles.example.org/{z}/{x}/{y}.png"
    monkeypatch.setenv("YITU_BASEMAP_URL", url)
    web_settings.web_settings.cache_clear()
    try:
        cfg = map_world.client.get("/api/v1/map/config").json()
    finally:
        web_settings.web_settings.cache_clear()
    assert cfg["basemap_url"] == url


def _address_in(world: World, grid_code: str | None) -> tuple[str, int]:
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        stmt = select(Address.full_name, Address.building_id).where(Address.kind == "building")
        if grid_code:
            stmt = stmt.join(Building, Building.id == Address.building_id).where(
                Building.node_id == get_node(session, grid_code).id)
        else:
            stmt = stmt.join(Building, Building.id == Address.building_id).where(
                Building.node_id != get_node(session, GRID_A).id)
        name, bid = session.execute(stmt.order_by(Address.id).limit(1)).one()
    return name, bid


def test_search_finds_an_address_within_the_scope(map_world: World) -> None:
    inside, inside_id = _address_in(map_world, GRID_A)
    outside, outside_id = _address_in(map_world, None)
    for role, text, bid, found in [
        (Role.OPERATOR, inside, inside_id, True),
        (Role.OPERATOR, outside, outside_id, True),
        (Role.GRID_WORKER, inside, inside_id, True),
        (Role.GRID_WORKER, outside, outside_id, False),
    ]:
        r = map_world.client.post("/api/v1/map/search", json={"q": text},
                                  headers=map_world.headers(role))
        assert r.status_code == 200, r.text
        hits = {a["building_id"] for a in r.json()["addresses"]}
        assert (bid in hits) is found, (role, text)


def test_search_recognises_a_grid_code_and_a_place(map_world: World) -> None:
    code = encode(111.6755, 32.3851, 7)
    r = map_world.client.post("/api/v1/map/search", json={"q": code.lower()},
                              headers=map_world.headers(Role.OPERATOR)).json()
    assert r["cell"]["code"] == code and r["cell"]["level"] == 7
    assert r["cell"]["bbox"] == pytest.approx(list(cell_bbox(code, 2)))
    r = map_world.client.post("/api/v1/map/search", json={"q": "光化街道"},
                              headers=map_world.headers(Role.OPERATOR)).json()
    town = next(n for n in r["nodes"] if n["name"] == "光化街道")
    assert town["level"] == "town" and len(town["bbox"]) == 4
    # a grid worker does not find the town above their grid
    r = map_world.client.post("/api/v1/map/search", json={"q": "光化街道"},
                              headers=map_world.headers(Role.GRID_WORKER)).json()
    assert all(n["name"] != "光化街道" for n in r["nodes"])


def test_search_validation_and_permission(map_world: World) -> None:
    r = map_world.client.post("/api/v1/map/search", json={"q": ""},
                              headers=map_world.headers(Role.OPERATOR))
    assert r.status_code == 422 and r.json()["errors"][0]["field"].endswith("q")
    r = map_world.client.post("/api/v1/map/search", json={"q": "x"},
                              headers=map_world.headers(Role.AUDIT_ADMIN))
    assert r.status_code == 403


def test_cell_at_a_point_follows_the_zoom(map_world: World) -> None:
    h = map_world.headers(Role.OPERATOR)
    for zoom, level in [(12, 4), (16, 5), (18, 6), (20, 7)]:
        r = map_world.client.get(f"/api/v1/map/cell?lon=111.6755&lat=32.3851&zoom={zoom}",
                                 headers=h).json()
        assert r["level"] == level and r["code"] == encode(111.6755, 32.3851, level)
    r = map_world.client.get("/api/v1/map/cell?lon=200&lat=32&zoom=12", headers=h)
    assert r.status_code == 422 and "lon" in r.text
    # level (the case panel: the case's level-10 code as text) overrides the zoom
    r = map_world.client.get("/api/v1/map/cell?lon=111.6755&lat=32.3851&level=10").json()
    assert r["level"] == 10 and r["code"] == encode(111.6755, 32.3851, 10)
    r = map_world.client.get("/api/v1/map/cell?lon=111.6755&lat=32.3851")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "zoom"
    r = map_world.client.get("/api/v1/map/cell?lon=111.6755&lat=32.3851&level=11")
    assert r.status_code == 422 and "level" in r.text


@pytest.mark.parametrize("path", ["/", "/report"])
def test_pages_load_only_local_assets(map_world: World, path: str) -> None:
    r = map_world.client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "http://" not in html and "https://" not in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith("maplibre-gl.js") for a in assets)
    for asset in assets:
        assert asset.startswith("/static/web/")
        assert map_world.client.get(asset).status_code == 200, asset
    # the app modules import only each other (relative paths), never a URL
    for module in re.findall(r'src="(/static/web/app/[^"]+\.js)"', html):
        source = map_world.client.get(module).text
        assert "http://" not in source and "https://" not in source
