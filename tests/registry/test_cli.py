"""``yitu registry`` commands on the fixture county: answers equal the library's, and no ID
number or phone is printed."""

from __future__ import annotations

import json
from pathlib import Path

from foundation.world import AUDIT_KEY, GRID_A, World
from typer.testing import CliRunner

from registry.county import EDGE_LAT, EDGE_LON, County
from yitu.cli import app as cli
from yitu.core.logs import ID_NUMBER_RE, MOBILE_RE


def _run(world: World, tmp_path: Path, *args: str) -> str:
    env = {
        "YITU_DATABASE_URL": world.platform.settings.database_url,
        "YITU_AUDIT_KEY": AUDIT_KEY,
        "YITU_DATA_DIR": str(tmp_path / "data"),
    }
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    assert not ID_NUMBER_RE.search(result.output) and not MOBILE_RE.search(result.output)
    return result.output


def test_registry_cli(county_world: tuple[World, County], tmp_path: Path) -> None:
    world, county = county_world
    at = json.loads(_run(world, tmp_path, "registry", "building-at", str(EDGE_LON), str(EDGE_LAT)))
    assert at["id"] in county.footprints
    near = json.loads(_run(world, tmp_path, "registry", "nearest", "111.9", "32.6"))
    assert near["distance_m"] > 30_000
    counts = json.loads(_run(world, tmp_path, "registry", "grid-counts", "420682000000"))
    assert counts["buildings"] == len(county.building_ids)
    assert GRID_A in _run(world, tmp_path, "registry", "tree")
    fc = json.loads(_run(world, tmp_path, "registry", "geojson", "--bbox", "111.6,32.3,111.8,32.5"))
    assert len(fc["features"]) == len(county.building_ids)
    grids = json.loads(_run(world, tmp_path, "registry", "geojson", "--bbox",
                            "111.6,32.3,111.8,32.5", "--layer", "grids"))
    assert len(grids["features"]) == 3


def test_geojson_output_is_capped(county_world: tuple[World, County], tmp_path: Path) -> None:
    world, _ = county_world
    env = {
        "YITU_DATABASE_URL": world.platform.settings.database_url,
        "YITU_AUDIT_KEY": AUDIT_KEY,
        "YITU_DATA_DIR": str(tmp_path / "data"),
    }
    for layer, cap in (("buildings", 5), ("grids", 2)):
        result = CliRunner().invoke(cli, ["registry", "geojson", "--bbox", "111.6,32.3,111.8,32.5",
                                          "--layer", layer, "--max-features", str(cap)], env=env)
        assert result.exit_code == 2, result.output
        assert f"more than {cap} {layer}" in result.output
        assert "FeatureCollection" not in result.output  # refused, not truncated
