"""``yitu registry``: spatial lookups, counts, the region tree and GeoJSON from the local
database. A trusted local tool: it reads UNRESTRICTED (like the other CLI commands) and prints no
personal data (buildings, counts and boundaries only)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.cli._common import platform
from yitu.core.errors import YituError
from yitu.grid.errors import GridError
from yitu.registry import services, spatial
from yitu.registry.models import Building

#: Default cap on one GeoJSON answer (the API's limit too).
MAX_FEATURES = 5000

app = typer.Typer(help="Registry (一标三实) queries on the BeiDou grid.", no_args_is_help=True)


def _building(b: Building, **extra: Any) -> dict[str, Any]:
    return {"id": b.id, "name": b.name, "node_id": b.node_id, "use": b.use, "floors": b.floors,
            "lon": b.lon, "lat": b.lat, "code": b.code, "code3d": b.code3d, **extra}


def _print(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


@app.command("building-at")
def building_at(lon: float, lat: float) -> None:
    """The building whose footprint contains LON LAT (null if none)."""
    p = platform()
    with p.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        b = spatial.building_containing(session, lon, lat)
        _print(_building(b) if b else None)


@app.command("nearest")
def nearest(lon: float, lat: float) -> None:
    """The building with the nearest footprint to LON LAT and its distance in metres."""
    p = platform()
    with p.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        hit = spatial.nearest_building(session, lon, lat)
        _print(_building(hit[0], distance_m=round(hit[1], 3)) if hit else None)


@app.command("grid-counts")
def grid_counts(grid_code: str) -> None:
    """Population by type, elderly living alone, rooms by use, buildings, organisations."""
    p = platform()
    try:
        with p.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
            node = services.node_in_scope(session, UNRESTRICTED, grid_code)
            _print(services.grid_counts(session, node, p.clock.now().date()))
    except YituError as exc:
        raise typer.BadParameter(exc.detail) from exc


@app.command("tree")
def tree() -> None:
    """The region tree: county > towns > villages > grids (codes and names)."""
    p = platform()
    with p.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        roots = services.region_tree(session, UNRESTRICTED)

    def show(node: dict[str, Any], depth: int) -> None:
        typer.echo(f"{'  ' * depth}{node['code']} {node['name']}")
        for child in node["children"]:
            show(child, depth + 1)

    for root in roots:
        show(root, 0)


@app.command("geojson")
def geojson(
    bbox: Annotated[str, typer.Option(help="west,south,east,north")],
    layer: Annotated[str, typer.Option(help="buildings or grids")] = "buildings",
    max_features: Annotated[
        int, typer.Option(min=1, help="refuse a bbox holding more features than this")
    ] = MAX_FEATURES,
) -> None:
    """A GeoJSON FeatureCollection of building footprints or grid boundaries in a bbox (at most
    --max-features: a larger answer is refused, not truncated)."""
    try:
        w, s, e, n = services.parse_bbox(bbox)
    except YituError as exc:
        raise typer.BadParameter(exc.detail) from exc
    if layer not in ("buildings", "grids"):
        raise typer.BadParameter("layer must be buildings or grids")
    p = platform()
    try:
        with p.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
            if layer == "buildings":
                feats = [services.building_feature(b) for b in spatial.buildings_in_bbox(
                    session, w, s, e, n, limit=max_features + 1)]
            else:
                feats = services.grid_features(
                    session, UNRESTRICTED, w, s, e, n, limit=max_features + 1)
    except GridError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if len(feats) > max_features:
        raise typer.BadParameter(
            f"the bbox holds more than {max_features} {layer}: zoom in, split the bbox or "
            "raise --max-features", param_hint="--bbox")
    typer.echo(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False))
