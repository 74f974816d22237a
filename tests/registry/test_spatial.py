"""Spatial queries against brute force over all rows (shapely), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from foundation.world import GRID_A, GRID_B, World
from shapely.geometry import Point, Polygon, box, mapping
from sqlalchemy import Integer, event, literal, select, text
from sqlalchemy.orm import Session

from registry.county import EDGE_LAT, EDGE_LON, LAT0, LON0, TODAY, County
from yitu.access.jurisdiction import get_node
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED, Scope
from yitu.core.db import Database
from yitu.grid import encode, to_int
from yitu.grid.cover import bbox_ranges
from yitu.registry import spatial
from yitu.registry.models import Building, PersonHouse

M = spatial.M_PER_DEG


def _session(world: World, scope: object = UNRESTRICTED) -> Any:
    return world.platform.db.session(**{SCOPE_KEY: scope})


@pytest.fixture(scope="module")
def session(county_world: tuple[World, County]) -> Iterator[Session]:
    with _session(county_world[0]) as s:
        yield s


def _boxes() -> list[tuple[float, float, float, float]]:
    rng = np.random.default_rng(3)
    out = [
        (LON0, LAT0, LON0 + 0.03, LAT0 + 0.03),
        (EDGE_LON, EDGE_LAT, EDGE_LON + 0.001, EDGE_LAT + 0.001),  # corner on the edge point
        (EDGE_LON - 0.001, EDGE_LAT - 0.001, EDGE_LON, EDGE_LAT),
        (111.6805, 32.3805, 111.6811, 32.3811),  # inside the L's empty corner
        (111.6620, 32.3890, 111.6625, 32.3901),  # touches the long building's middle
    ]
    for _ in range(40):
        x, y = LON0 + rng.uniform(-0.005, 0.03), LAT0 + rng.uniform(-0.005, 0.03)
        d = rng.choice([0.0005, 0.002, 0.01])
        out.append((x, y, x + d, y + d * 0.7))
    return out


@pytest.mark.parametrize("bbox", _boxes())
def test_buildings_in_bbox_match_brute_force(
    session: Session, county_world: tuple[World, County], bbox: tuple[float, ...]
) -> None:
    county = county_world[1]
    expected = sorted(i for i, f in county.footprints.items() if f.intersects(box(*bbox)))
    got = [b.id for b in spatial.buildings_in_bbox(session, *bbox)]
    assert got == expected


def test_bbox_ranges_stay_small() -> None:
    for w, s, e, n in _boxes():
        assert 1 <= len(spatial.ranges_for_bbox(w, s, e, n)) <= spatial.MAX_RANGES
    # the whole county still fits
    assert len(spatial.ranges_for_bbox(111.4, 32.2, 111.9, 32.6)) <= spatial.MAX_RANGES


def test_bbox_ranges_hold_every_point_of_the_closed_box() -> None:
    rng = np.random.default_rng(5)
    for w, s, e, n in _boxes()[:10]:
        r = spatial.ranges_for_bbox(w, s, e, n)
        pts = [(w, s), (e, n), (w, n), (e, s)] + [
            (rng.uniform(w, e), rng.uniform(s, n)) for _ in range(50)
        ]
        for lon, lat in pts:
            from yitu.grid import to_int

            v = to_int(encode(lon, lat, 10))
            assert any(lo <= v < hi for lo, hi in r)


def test_polygon_matches_brute_force(
    session: Session, county_world: tuple[World, County]
) -> None:
    county = county_world[1]
    polys = [
        Polygon([(111.662, 32.372), (111.688, 32.375), (111.670, 32.395)]),
        Polygon([(EDGE_LON, EDGE_LAT), (111.68, EDGE_LAT), (111.68, 32.39)]),
        box(111.6805, 32.3805, 111.6811, 32.3811),
    ]
    for poly in polys:
        expected = sorted(i for i, f in county.footprints.items() if f.intersects(poly))
        assert [b.id for b in spatial.buildings_in_polygon(session, poly)] == expected


def test_buildings_in_cell(session: Session) -> None:
    rows = session.scalars(select(Building)).all()
    for level in (4, 5, 7, 10):
        cells = {encode(b.lon, b.lat, level) for b in rows}
        for cell in sorted(cells)[:10]:
            expected = sorted(b.id for b in rows if encode(b.lon, b.lat, level) == cell)
            assert [b.id for b in spatial.buildings_in_cell(session, cell)] == expected


def _points() -> list[tuple[float, float]]:
    rng = np.random.default_rng(11)
    pts = [(EDGE_LON, EDGE_LAT), (111.6812, 32.3802), (111.6806, 32.3806), (111.6630, 32.3906)]
    pts += [(LON0 + rng.uniform(-0.01, 0.04), LAT0 + rng.uniform(-0.01, 0.04)) for _ in range(60)]
    return pts


@pytest.mark.parametrize("point", _points())
def test_containing_and_nearest_match_brute_force(
    session: Session, county_world: tuple[World, County], point: tuple[float, float]
) -> None:
    county = county_world[1]
    lon, lat = point
    p = Point(lon, lat)
    covering = [i for i, f in county.footprints.items() if f.covers(p)]
    b = spatial.building_containing(session, lon, lat)
    if covering:
        best = min(covering, key=lambda i: (county.footprints[i].area, i))
        assert b is not None and b.id == best
    else:
        assert b is None
    kx = math.cos(math.radians(lat))

    def dist(f: Polygon) -> float:
        xy = [((x - lon) * kx * M, (y - lat) * M) for x, y in f.exterior.coords]
        return Polygon(xy).distance(Point(0, 0))

    brute = min((dist(f), i) for i, f in county.footprints.items())
    hit = spatial.nearest_building(session, lon, lat)
    assert hit is not None
    assert hit[0].id == brute[1]
    assert hit[1] == pytest.approx(brute[0], abs=1e-6)


def test_nearest_far_away_and_nothing(session: Session) -> None:
    hit = spatial.nearest_building(session, 111.9, 32.6)  # ~35 km away
    assert hit is not None and hit[1] > 30_000
    assert spatial.nearest_building(session, 111.9, 32.6, limit_m=1000) is None


def test_people_in_cell_are_current_residents(session: Session) -> None:
    rels = session.scalars(select(PersonHouse)).all()
    for level in (5, 7, 10):
        cells = {encode(*_lonlat(session, r), level)
                 for r in rels[:20]}
        for cell in cells:
            v = spatial.ranges_for_cell(cell)[0]
            expected = sorted({
                r.person_id for r in rels
                if v[0] <= r.code < v[1] and r.relation in ("householder", "tenant",
                                                             "family_member", "lodger")
                and r.valid_from <= TODAY and (r.valid_to is None or r.valid_to > TODAY)
            })
            got = [p.id for p in spatial.people_in_cell(session, cell, TODAY)]
            assert got == expected
            assert sum(spatial.count_people_in_cell(session, cell, TODAY).values()) == len(got)


def _lonlat(session: Session, r: PersonHouse) -> tuple[float, float]:
    from yitu.registry.models import House

    h = session.get(House, r.house_id)
    assert h is not None
    return h.lon, h.lat


def test_scope_applies_to_every_query(county_world: tuple[World, County]) -> None:
    world, county = county_world
    with _session(world) as full:
        grid_id = get_node(full, GRID_A).id
    with _session(world, Scope(frozenset({grid_id}))) as scoped, _session(
        world, Scope(frozenset())
    ) as nobody:
        _check_scoped(county, scoped, nobody, grid_id)


def _check_scoped(county: County, scoped: Session, nobody: Session, grid_id: int) -> None:
    w, s, e, n = LON0 - 0.01, LAT0 - 0.01, LON0 + 0.04, LAT0 + 0.04
    expected = sorted(i for i, g in county.nodes.items() if g == GRID_A)
    assert [b.id for b in spatial.buildings_in_bbox(scoped, w, s, e, n)] == expected
    cell = encode(111.67, 32.38, 3)
    assert all(b.node_id == grid_id for b in spatial.buildings_in_cell(scoped, cell))
    assert all(p.node_id == grid_id for p in spatial.people_in_cell(scoped, cell, TODAY))
    hit = spatial.nearest_building(scoped, 111.695, 32.385)  # in GRID_B: nearest visible is in A
    assert hit is not None and hit[0].node_id == grid_id
    assert spatial.buildings_in_bbox(nobody, w, s, e, n) == []
    assert spatial.building_containing(nobody, EDGE_LON, EDGE_LAT) is None


def test_query_plans_use_the_code_index(session: Session) -> None:
    r = bbox_ranges(111.66, 32.37, 111.68, 32.39, 5)
    assert len(r) > 1
    stmt = select(Building.id).where(spatial.code_range_clause(Building.code, r))
    sql = str(stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        plan = " ".join(str(row) for row in session.execute(text("EXPLAIN QUERY PLAN " + sql)))
        assert "ix_buildings_code" in plan and "SCAN buildings" not in plan.replace(
            "USING INDEX", "")
    else:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(str(row) for row in session.execute(text("EXPLAIN " + sql)))
        assert "ix_buildings_code" in plan


def test_real_statements_search_the_code_index_on_sqlite(session: Session) -> None:
    """The statements the queries actually send (bound parameters, scope, bbox filters): none
    may fall back to a table scan (an ORDER BY id once made SQLite scan in rowid order)."""
    engine = session.get_bind()
    if engine.dialect.name != "sqlite":
        return  # PostgreSQL: see test_query_plans_use_the_code_index
    plans: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.startswith("SELECT") and "max(" not in statement:
            rows = cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, params)
            plans.append(" | ".join(str(r[3]) for r in rows))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with _session_for(session) as scoped:
            spatial.buildings_in_bbox(scoped, 111.665, 32.375, 111.668, 32.377)
            spatial.building_containing(scoped, EDGE_LON, EDGE_LAT)
            spatial.people_in_cell(scoped, encode(EDGE_LON, EDGE_LAT, 7), TODAY)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert plans
    for plan in plans:
        for step in plan.split(" | "):
            assert step not in ("SCAN buildings", "SCAN person_houses", "SCAN people"), plan


def _session_for(session: Session) -> Any:
    return Session(session.get_bind(), info={SCOPE_KEY: Scope(frozenset(range(1, 10_000)))})


def test_extent_follows_buildings_written_by_another_process(
    county_world: tuple[World, County],
) -> None:
    """The extent bound lives in the database (trigger-maintained), so a building loaded by
    another process (the demo loader's bulk insert, psql) is found at once, however long."""
    world, _ = county_world
    other = Database(world.platform.settings.database_url)  # its own pool, as another process
    with _session(world) as s:
        before = spatial.building_extent(s)
        grid_b = get_node(s, GRID_B).id
    big = box(111.6915, 32.3950, 111.6990, 32.3952)  # ~700 m long: wider than any other
    assert big.bounds[2] - big.bounds[0] > before.dlon
    px, py = 111.6916, 32.3951  # its code point at the west end
    with other.engine.begin() as conn:
        bid = conn.execute(Building.__table__.insert().returning(Building.__table__.c.id), {
            "node_id": grid_b, "name": "长厂房", "door_number": "", "use": "industrial",
            "structure": "steel", "floors": 1, "basement_floors": 0, "height_m": 8.0,
            "ground_m": 60.0, "footprint": json.dumps(mapping(big)), "lon": px, "lat": py,
            "west": big.bounds[0], "south": big.bounds[1], "east": big.bounds[2],
            "north": big.bounds[3], "code": to_int(encode(px, py, 10)), "code3d": "",
        }).scalar_one()
    try:
        with _session(world) as s:
            assert spatial.building_extent(s).dlon == pytest.approx(0.0075)
            hit = spatial.building_containing(s, 111.6985, 32.3951)  # 650 m from its point
            assert hit is not None and hit.id == bid
            ids = [b.id for b in spatial.buildings_in_bbox(s, 111.6980, 32.3940, 111.6995,
                                                          32.3960)]
            assert bid in ids
        with other.engine.begin() as conn:  # an update from elsewhere raises the bound too
            conn.execute(Building.__table__.update().where(Building.__table__.c.id == bid)
                         .values(west=111.6905, footprint=json.dumps(mapping(
                             box(111.6905, 32.3950, 111.6990, 32.3952)))))
        with _session(world) as s:
            assert spatial.building_extent(s).dlon == pytest.approx(0.0085)
    finally:
        with other.engine.begin() as conn:
            conn.execute(Building.__table__.delete().where(Building.__table__.c.id == bid))
        other.dispose()


def test_viewport_is_one_statement_that_checks_its_extent(
    county_world: tuple[World, County],
) -> None:
    """``buildings_in_bbox`` grows its cover by the extent bound the previous call used and
    checks that bound in the same statement: one statement per viewport once the bound is
    known; an assumed bound too small (the long building's box) or too large, and an empty
    box, still give the brute-force answer."""
    world, county = county_world
    engine = world.platform.db.engine
    sent: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    boxes = [(LON0, LAT0, LON0 + 0.03, LAT0 + 0.03), (111.6620, 32.3890, 111.6625, 32.3901),
             (111.40, 32.20, 111.401, 32.201)]  # fmt: skip
    with _session(world) as s:
        true_extent = spatial.building_extent(s)
        for assumed in (None, spatial.Extent(0.0, 0.0), spatial.Extent(0.01, 0.01)):
            for bbox in boxes:
                if assumed is None:
                    spatial._assumed_extent.pop(engine, None)
                else:
                    spatial._assumed_extent[engine] = assumed
                expected = sorted(i for i, f in county.footprints.items()
                                  if f.intersects(box(*bbox)))  # fmt: skip
                assert [b.id for b in spatial.buildings_in_bbox(s, *bbox)] == expected
        assert expected == []  # the last box is empty: the extent was read again
        assert spatial._assumed_extent[engine] == true_extent
        event.listen(engine, "before_cursor_execute", capture)
        try:
            assert spatial.buildings_in_bbox(s, *boxes[1])
        finally:
            event.remove(engine, "before_cursor_execute", capture)
    assert len(sent) == 1 and "registry_extent" in sent[0], sent


@pytest.mark.parametrize("ids", [set(range(1, 2000, 2)), set(range(2, 2000, 2)), set()])
def test_viewport_scope_is_part_of_the_join(
    county_world: tuple[World, County], ids: set[int]
) -> None:
    """The scope sits in the viewport statement's join condition (the extent row must survive
    it): every scope shape — here more runs than ``MAX_SCOPE_RUNS``, SQLite's plain ``IN`` —
    admits exactly the scope's buildings."""
    bbox = (LON0, LAT0, LON0 + 0.03, LAT0 + 0.03)
    with _session(county_world[0]) as s:
        every = spatial.buildings_in_bbox(s, *bbox)
    with _session(county_world[0], Scope(frozenset(ids))) as s:
        got = [b.id for b in spatial.buildings_in_bbox(s, *bbox)]
    assert got == [b.id for b in every if b.node_id in ids]
    assert ids == set() or got  # both halves hold buildings


def test_scope_is_a_filter_not_an_index_condition(session: Session) -> None:
    """The range statements' plans on PostgreSQL: the code ranges (and bbox) are index
    conditions, the scope's ``node_id <@ multirange`` is not — as an index condition PostgreSQL
    (before 17) descends the index once per scope node (44 ms for a county scope, measured)."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: test_real_statements_search_the_code_index_on_sqlite
    r = spatial.ranges_for_bbox(111.66, 32.37, 111.68, 32.39)
    shape, scope_params = spatial.scope_bind(Scope(frozenset(range(1, 800))), "postgresql")
    params = {**spatial._range_params(r), "w": 111.66, "s": 32.37, "e": 111.68, "n": 32.39,
              **scope_params}
    session.execute(text("SET LOCAL enable_seqscan = off"))
    for build, extra in ((spatial._bbox_statement, {}),
                         (spatial._bbox_checked_statement, {"ext_dlon": 0.01, "ext_dlat": 0.01})):
        stmt = build(len(r))(spatial.scoper("postgresql", shape)).params(**params, **extra)
        sql = str(stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
        plan = [str(row[0]) for row in session.execute(text("EXPLAIN " + sql))]
        conds = [line for line in plan if "Index Cond" in line and "(id = 1)" not in line]
        assert conds and all("code >=" in c and "node_id" not in c for c in conds), plan


@pytest.mark.parametrize("ids", [
    set(), {7}, set(range(1, 753)), {1, 2, 3, 10, 11, 40, 41}, set(range(1, 200, 2)),
])
def test_scope_binding_admits_exactly_the_scope(
    county_world: tuple[World, County], ids: set[int]
) -> None:
    """Bound as runs of consecutive ids (SQLite: padded ``BETWEEN`` terms, or the plain ``IN``
    beyond ``MAX_SCOPE_RUNS``; PostgreSQL: one multirange), the scope admits exactly its ids,
    checked in the database for every id from 0 to 800."""
    with _session(county_world[0]) as s:
        dialect = s.get_bind().dialect.name
        shape, params = spatial.scope_bind(Scope(frozenset(ids)), dialect)
        seed = select(literal(0, Integer).label("node_id")).cte("nodes", recursive=True)
        nodes = seed.union_all(
            select((seed.c.node_id + 1).label("node_id")).where(seed.c.node_id < 800))
        stmt = select(nodes.c.node_id).where(spatial.scoper(dialect, shape)(nodes.c))
        assert set(s.scalars(stmt, params)) == ids
    runs = len([i for i in ids if i - 1 not in ids])
    if dialect == "postgresql":
        assert shape == ("multirange",)
    elif runs > spatial.MAX_SCOPE_RUNS:
        assert shape == ("in",)
    else:  # padded to a power of two: a few statement shapes
        assert shape == ("runs", 1 << (runs - 1).bit_length() if runs else 0)


def test_unknown_scope_binds_nothing(county_world: tuple[World, County]) -> None:
    with _session(county_world[0]) as s:
        dialect = s.get_bind().dialect.name
    assert spatial.scope_bind(None, dialect) == spatial.scope_bind(Scope(frozenset()), dialect)
    with pytest.raises(ValueError):
        spatial.scope_bind(UNRESTRICTED, dialect)


def test_postgresql_keeps_a_generic_plan_for_the_range_statements(session: Session) -> None:
    """With the bound values hidden from the planner (``spatial._Fixed``), PostgreSQL keeps
    one generic plan for a prepared range statement instead of planning every call again."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite has no plan cache to choose from
    with _session_for(session) as scoped:
        for i in range(20):  # psycopg prepares after 5 runs; PostgreSQL compares after 5 more
            d = i * 1e-5
            spatial.buildings_in_bbox(scoped, 111.665 + d, 32.375, 111.668 + d, 32.377)
            spatial.people_in_cell(scoped, encode(EDGE_LON, EDGE_LAT, 7), TODAY)
        rows = scoped.execute(text(
            "SELECT statement, generic_plans FROM pg_prepared_statements "
            "WHERE (statement LIKE '%buildings.code >= (SELECT%' "
            "OR statement LIKE '%person_houses.code >= (SELECT%') "
            "AND generic_plans + custom_plans >= 10")).all()  # the ones run here
    assert rows and any("JOIN buildings" in r.statement for r in rows)  # the viewport
    assert any("person_houses" in r.statement for r in rows)
    assert all(r.generic_plans > 0 for r in rows), rows
