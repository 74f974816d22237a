"""``building_cells`` (the level-6 cells each building's bbox meets): computed exactly, kept by
every writer (ORM events, database triggers' pending rows, the demo loader), and the probe
``building_containing`` sends, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from foundation.conftest import (  # noqa: F401 - fixtures used by this module
    DatabaseFactory,
    databases,
    no_personal_data_in_logs,
)
from foundation.world import GRID_B, World
from shapely.geometry import box, mapping
from sqlalchemy import Connection, event, select
from sqlalchemy.orm import Session

from registry.county import County
from yitu.access.jurisdiction import get_node
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED, Scope
from yitu.core.db import Database
from yitu.demo.generate import generate
from yitu.demo.load import load
from yitu.grid import encode, to_int, vector
from yitu.registry import cells, spatial
from yitu.registry.models import Building, BuildingCell

_BC = BuildingCell.__table__
_B = Building.__table__
#: Level-6 cells are 4096 units (2″) on each side: a sampling step well below it.
_STEP = 0.5 / 3600


def _expected_cells(w: float, s: float, e: float, n: float) -> set[int]:
    """Brute force: the level-6 codes of a dense sampling of the closed bbox, edges included."""
    xs = np.unique(np.concatenate([np.arange(w, e, _STEP), [w, e]]))
    ys = np.unique(np.concatenate([np.arange(s, n, _STEP), [s, n]]))
    gx, gy = np.meshgrid(xs, ys)
    return set(vector.encode_int(gx.ravel(), gy.ravel(), cells.LEVEL).tolist())


def _cells_of(conn: Connection | Session, building_id: int) -> set[int]:
    return set(conn.execute(select(_BC.c.cell).where(_BC.c.building_id == building_id)).scalars())


def _world_session(world: World) -> Any:
    return world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED})


def test_point_cell_is_the_codec_s_level_6_cell() -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(111.4, 111.9, 5000)
    y = rng.uniform(32.1, 32.6, 5000)
    # points exactly on level-6 cell edges (multiples of 2″) take the exact rule
    x[:500] = np.round(x[:500] * 1800) / 1800
    y[:500] = np.round(y[:500] * 1800) / 1800
    ours = [cells.point_cell(float(a), float(b)) for a, b in zip(x, y, strict=True)]
    assert ours == vector.encode_int(x, y, cells.LEVEL).tolist()
    assert cells.point_cell(-1.0, 32.0) is None  # outside the quadrant the table covers
    assert cells.point_cell(111.0, 88.0) is None


def test_fixture_county_cells_match_brute_force(county_world: tuple[World, County]) -> None:
    """Every building written through the ORM has exactly the cells its bbox meets (some of
    the fixture's buildings straddle cell edges or have their point on one)."""
    world, county = county_world
    with _world_session(world) as s:
        rows = s.execute(select(_B.c.id, _B.c.west, _B.c.south, _B.c.east, _B.c.north)).all()
        assert len(rows) == len(county.footprints)
        for b in rows:
            assert _cells_of(s, b.id) == _expected_cells(b.west, b.south, b.east, b.north), b.id
        pending = s.execute(select(_BC.c.building_id).where(_BC.c.cell == cells.PENDING)).all()
        assert pending == []


def test_cell_rows_straddling_many_cells() -> None:
    # ~280 m × 110 m from a corner exactly on a cell edge (whole degrees are level-6 edges)
    w, s, e, n = 112.0, 32.0, 112.003, 32.001
    at, code, _ = cells.cell_rows([1], [w], [s], [e], [n])
    assert at.tolist() == [0] * len(code)
    assert set(code.tolist()) == _expected_cells(w, s, e, n)
    assert len(code) == 6 * 2  # 5.4 cells wide, 1.8 tall: each side's partial cell counts


def test_orm_writes_keep_the_cells(county_world: tuple[World, County]) -> None:
    world, _ = county_world
    with _world_session(world) as s:
        grid_b = get_node(s, GRID_B).id
    fp = box(111.6950, 32.3970, 111.6953, 32.3972)
    with Session(world.platform.db.engine, info={SCOPE_KEY: UNRESTRICTED}) as s:
        b = Building(
            node_id=grid_b, name="测试楼", door_number="", use="residential",
            structure="brick", floors=2, basement_floors=0, height_m=6.0, ground_m=60.0,
            footprint=json.dumps(mapping(fp)), lon=111.6951, lat=32.3971,
            west=fp.bounds[0], south=fp.bounds[1], east=fp.bounds[2], north=fp.bounds[3],
            code=to_int(encode(111.6951, 32.3971, 10)), code3d="",
        )  # fmt: skip
        s.add(b)
        s.commit()
        bid = b.id
        assert _cells_of(s, bid) == _expected_cells(*fp.bounds)
        moved = box(111.7000, 32.4000, 111.7012, 32.4003)  # across a cell edge
        b.west, b.south, b.east, b.north = moved.bounds
        b.footprint = json.dumps(mapping(moved))
        s.commit()
        assert _cells_of(s, bid) == _expected_cells(*moved.bounds)
        assert len(_cells_of(s, bid)) > 1
        hit = spatial.building_containing(s, 111.7006, 32.4001)
        assert hit is not None and hit.id == bid
        assert spatial.building_containing(s, 111.6951, 32.3971) is None  # its old place
        b.name = "改名"  # no bbox change: the cells stay
        s.commit()
        assert _cells_of(s, bid) == _expected_cells(*moved.bounds)
        s.delete(b)
        s.commit()
        assert _cells_of(s, bid) == set()


def test_buildings_written_without_the_orm_are_pending_then_filled(
    county_world: tuple[World, County],
) -> None:
    """A building inserted or moved by another process (psql, a bulk copy) gets a pending row
    from the database's triggers, so it is found at once; ``fill_pending`` computes its
    cells."""
    world, _ = county_world
    other = Database(world.platform.settings.database_url)
    with _world_session(world) as s:
        grid_b = get_node(s, GRID_B).id
    fp = box(111.6960, 32.3980, 111.6964, 32.3982)
    with other.engine.begin() as conn:
        bid = conn.execute(_B.insert().returning(_B.c.id), {
            "node_id": grid_b, "name": "外来楼", "door_number": "", "use": "residential",
            "structure": "brick", "floors": 1, "basement_floors": 0, "height_m": 3.0,
            "ground_m": 60.0, "footprint": json.dumps(mapping(fp)), "lon": 111.6961,
            "lat": 32.3981, "west": fp.bounds[0], "south": fp.bounds[1], "east": fp.bounds[2],
            "north": fp.bounds[3], "code": to_int(encode(111.6961, 32.3981, 10)), "code3d": "",
        }).scalar_one()  # fmt: skip
    try:
        with _world_session(world) as s:
            assert _cells_of(s, bid) == {cells.PENDING}
            hit = spatial.building_containing(s, 111.6962, 32.3981)
            assert hit is not None and hit.id == bid
        with other.engine.begin() as conn:
            assert cells.fill_pending(conn) >= 1
        with _world_session(world) as s:
            assert _cells_of(s, bid) == _expected_cells(*fp.bounds)
            hit = spatial.building_containing(s, 111.6962, 32.3981)
            assert hit is not None and hit.id == bid
        moved = box(111.6990, 32.3990, 111.6994, 32.3992)
        with other.engine.begin() as conn:  # moved elsewhere: its old cells go, pending again
            conn.execute(_B.update().where(_B.c.id == bid).values(
                west=moved.bounds[0], south=moved.bounds[1], east=moved.bounds[2],
                north=moved.bounds[3], footprint=json.dumps(mapping(moved))))  # fmt: skip
        with _world_session(world) as s:
            assert _cells_of(s, bid) == {cells.PENDING}
            assert spatial.building_containing(s, 111.6962, 32.3981) is None
            hit = spatial.building_containing(s, 111.6992, 32.3991)
            assert hit is not None and hit.id == bid
        with other.engine.begin() as conn:
            cells.fill_pending(conn)
        with _world_session(world) as s:
            assert _cells_of(s, bid) == _expected_cells(*moved.bounds)
    finally:
        with other.engine.begin() as conn:  # cascades to its cells
            conn.execute(_B.delete().where(_B.c.id == bid))
        with _world_session(world) as s:
            assert _cells_of(s, bid) == set()
        other.dispose()


@pytest.fixture(scope="module")
def demo_db(databases: DatabaseFactory) -> Iterator[Database]:  # noqa: F811
    db = Database(databases.fresh())
    load(db, generate("small", 3))
    yield db
    db.dispose()


def test_demo_loader_fills_the_cells(demo_db: Database) -> None:
    with demo_db.engine.connect() as conn:
        rows = conn.execute(select(_B.c.id, _B.c.west, _B.c.south, _B.c.east, _B.c.north)).all()
        got: dict[int, set[int]] = {}
        for bid, cell in conn.execute(select(_BC.c.building_id, _BC.c.cell)):
            got.setdefault(bid, set()).add(cell)
    assert len(rows) > 1000 and set(got) == {b.id for b in rows}
    for b in rows[::25]:
        assert got[b.id] == _expected_cells(b.west, b.south, b.east, b.north), b.id
    assert all(cells.PENDING not in v for v in got.values())
    # a second load (--replace) leaves exactly the new county's cells
    load(demo_db, generate("small", 4), replace=True)
    with demo_db.engine.connect() as conn:
        ids = set(conn.execute(select(_B.c.id)).scalars())
        with_cells = set(conn.execute(select(_BC.c.building_id).distinct()).scalars())
        pending = conn.execute(select(_BC.c.cell).where(_BC.c.cell == cells.PENDING)).all()
    assert ids == with_cells and pending == []


def test_containment_probe_is_one_key_lookup(county_world: tuple[World, County]) -> None:
    """The statement ``building_containing`` sends seeks the point's cell (and the pending
    key) in building_cells' primary key and reads buildings by id: SQLite searches the key,
    PostgreSQL (generic plan) scans only that index, without visiting its heap."""
    world, _ = county_world
    engine = world.platform.db.engine
    scope = Scope(frozenset(range(1, 10_000)))
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "building_cells" in statement:
            sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with world.platform.db.session(**{SCOPE_KEY: scope}) as s:
            spatial.building_containing(s, 111.6951, 32.3971)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(sent) == 1  # one statement: no extent read
    statement, params = sent[0]
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan = [r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]
            assert any(p.startswith("SEARCH building_cells USING PRIMARY KEY (cell=?)")
                       for p in plan), plan  # fmt: skip
            assert any("buildings USING INTEGER PRIMARY KEY" in p for p in plan), plan
        else:
            # the fixture's tables are a few pages: a sequential scan would win there
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, params))
            assert "on pk_building_cells" in plan or "using pk_building_cells" in plan, plan
            assert "Index Cond: (cell = ANY" in plan, plan
            assert "using pk_buildings on buildings" in plan, plan
