"""Demo county map layers at `small` scale, on SQLite and PostgreSQL: the Han River stored in
``map_features`` along the west edge with no building in it, winding rural roads, and no road
through a building footprint (checked on the stored geometries with a shapely STRtree). The
``check_*`` functions are reused by the `town` test."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from foundation.conftest import (  # noqa: F401 - fixtures used by this module
    DatabaseFactory,
    databases,
    no_personal_data_in_logs,
)
from shapely.geometry import LineString, shape

from registry.test_demo import q
from yitu.core.db import Database
from yitu.demo import buildings as bmod
from yitu.demo.generate import generate
from yitu.demo.load import load
from yitu.demo.roads import RoadPlan, clear_buildings

SEED = 2


@pytest.fixture(scope="module")
def loaded(databases: DatabaseFactory) -> Database:  # noqa: F811
    db = Database(databases.fresh())
    load(db, generate("small", SEED))
    yield db
    db.dispose()


def _geoms(db: Database, sql: str) -> np.ndarray:
    return np.array([shape(json.loads(g)) for (g,) in q(db, sql)], dtype=object)


def check_river(db: Database) -> None:
    ((name, kind, layer, geometry, centreline, w, s, e, n),) = q(
        db,
        """SELECT name, kind, layer, geometry, centreline, west, south, east, north
             FROM map_features""",
    )
    assert (name, kind, layer) == ("汉江", "river", "water")
    river = shape(json.loads(geometry))
    assert river.is_valid and river.area > 0
    assert np.allclose(river.bounds, (w, s, e, n))
    assert shape(json.loads(centreline)).within(river.buffer(1e-9))
    county = shapely.union_all(
        _geoms(
            db,
            """SELECT b.geometry FROM node_boundaries b
        JOIN jurisdiction_nodes j ON j.id = b.node_id WHERE j.level = 'town'""",
        )
    )
    # along the whole west edge: it spans the county north to south, the boundary runs
    # midstream (part of the water is in the county), and it lies west of the county's centre
    cw, cs, ce, cn = county.bounds
    assert s < cs and n > cn
    inside = river.intersection(county)
    assert 0.2 < inside.area / river.intersection(shapely.box(cw, cs, ce, cn)).area < 0.8
    assert inside.centroid.x < cw + 0.1 * (ce - cw)
    # no building stands in the river, no road crosses it
    feet = _geoms(db, "SELECT footprint FROM buildings")
    assert not shapely.intersects(feet, river).any()
    roads = _geoms(db, "SELECT geometry FROM roads")
    assert not shapely.intersects(roads, river).any()


def check_roads(db: Database) -> None:
    feet = _geoms(db, "SELECT footprint FROM buildings")
    rows = q(db, "SELECT kind, geometry FROM roads")
    roads = np.array([shape(json.loads(g)) for _k, g in rows], dtype=object)
    # vectorised: every road against every footprint through one STRtree query
    hits = shapely.STRtree(feet).query(roads, predicate="intersects")
    assert hits.shape[1] == 0, f"{hits.shape[1]} road/building intersections"
    rural = [g for (k, _g), g in zip(rows, roads, strict=True) if k == "rural"]
    assert len(rural) > 200
    coords = [np.asarray(g.coords) for g in rural]
    # polylines with a vertex every ~40 m, not two-point segments
    assert all(len(c) >= 8 for g, c in zip(rural, coords, strict=True) if g.length > 400)
    sinuosity = np.array(
        [g.length / np.hypot(*(c[-1] - c[0])) for g, c in zip(rural, coords, strict=True)]
    )
    assert (sinuosity > 1.005).mean() > 0.95 and np.median(sinuosity) > 1.02


def test_han_river_layer(loaded: Database) -> None:
    check_river(loaded)


def test_roads_wind_and_never_cut_a_building(loaded: Database) -> None:
    check_roads(loaded)


def test_clear_buildings_drops_only_what_a_corridor_touches() -> None:
    # three 10 m × 8 m buildings; a road along y = 0 with a 2.5 m half-width
    n = 3
    b = bmod.Buildings(
        kind=np.full(n, bmod.RURAL_HOUSE),
        x=np.array([0.0, 50.0, 100.0]),
        y=np.array([0.0, 8.5, 30.0]),  # on the road; its edge 2 m from the corridor; clear
        length=np.full(n, 10.0),
        width=np.full(n, 8.0),
        angle=np.zeros(n),
        floors=np.ones(n, np.int64),
        units=np.ones(n, np.int64),
        rooms_per_floor=np.ones(n, np.int64),
        floor_h=np.full(n, 3.0),
        basement=np.zeros(n, np.int64),
        use=np.full(n, "residential"),
        structure=np.full(n, "brick_concrete"),
        hamlet=np.zeros(n, np.int64),
        town_seat=np.full(n, -1),
    )
    road = LineString([(-50, 0), (150, 0)])
    plan = RoadPlan(["r"], ["rural"], [0], [road], [2.5], {}, {}, [])
    assert clear_buildings(b, plan).tolist() == [False, True, True]
    plan.half_width = [2.5 + 2.5]  # a wider corridor reaches the second building
    assert clear_buildings(b, plan).tolist() == [False, False, True]
