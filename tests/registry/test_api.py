"""Registry API: every role × endpoint, masking/leakage, audit, scope, problems."""

from __future__ import annotations

import json
from typing import Any

import pytest
from foundation.world import GRID_A, GRID_B, World
from shapely.geometry import shape
from sqlalchemy import select

from registry.county import EDGE_LAT, EDGE_LON, County
from yitu.access.roles import Role
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.audit.models import AuditEvent
from yitu.grid import encode, to_int
from yitu.people.models import Person
from yitu.registry.codes import make_credit_code
from yitu.registry.models import Building, Organisation

R = Role
READERS = frozenset({R.OPERATOR, R.DEPT_HANDLER, R.TOWNSHIP_OFFICER, R.GRID_WORKER,
                     R.ELDERCARE_OPERATOR, R.MEDIATOR})
BBOX = "111.66,32.37,111.69,32.40"
API = "/api/v1/registry"


def _ids(world: World) -> tuple[int, int]:
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        grid_a = _grid_id(s, GRID_A)
        b = s.scalars(select(Building).where(Building.node_id == grid_a)
                      .order_by(Building.id)).first()
        assert b is not None
        p = s.scalars(select(Person).where(Person.node_id == grid_a, Person.name.like("测试%"))
                      .order_by(Person.id)).first()
        assert p is not None
        return b.id, p.id


WRITERS = frozenset({R.OPERATOR, R.TOWNSHIP_OFFICER, R.GRID_WORKER})
#: Inside the fixture county (the union of its three grid boundaries) and GRID_A.
POLYGON = {"type": "Polygon", "coordinates": [[[111.661, 32.371], [111.671, 32.371],
                                               [111.671, 32.389], [111.661, 32.371]]]}
_serial = iter(range(1000, 100_000))


def _org_body() -> dict[str, Any]:
    n = next(_serial)
    return {"name": f"矩阵测试商行{n}", "credit_code": make_credit_code("420682", n),
            "kind": "individual_business", "lon": 111.665, "lat": 32.375, "node_code": GRID_A}


def _org_id(world: World) -> int:
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        org = s.scalars(select(Organisation).where(Organisation.node_id == _grid_id(s, GRID_A))
                        .order_by(Organisation.id)).first()
        assert org is not None
        return org.id


def _grid_id(session: Any, code: str) -> int:
    from yitu.access.jurisdiction import get_node

    return get_node(session, code).id


# (method, path, body, roles allowed, status for an allowed role). Every object is in GRID_A,
# inside every reader's scope, so an allowed role gets the success status exactly.
def _endpoints(world: World) -> list[tuple[str, str, Any, frozenset[Role], int]]:
    bid, pid = _ids(world)
    oid = _org_id(world)
    return [
        ("POST", f"{API}/people/search", {"name": "张明"}, READERS, 200),
        ("GET", f"{API}/people/{pid}", None, READERS, 200),
        ("GET", f"{API}/buildings/{bid}", None, READERS, 200),
        ("GET", f"{API}/buildings/at?lon={EDGE_LON}&lat={EDGE_LAT}", None, READERS, 200),
        ("GET", f"{API}/buildings/nearest?lon=111.67&lat=32.38", None, READERS, 200),
        ("POST", f"{API}/buildings/in-polygon", {"geometry": POLYGON}, READERS, 200),
        ("GET", f"{API}/cells/{encode(111.67, 32.38, 5)}/people", None, READERS, 200),
        ("GET", f"{API}/grids/{GRID_A}/counts", None, READERS, 200),
        ("GET", f"{API}/tree", None, READERS, 200),
        ("GET", f"{API}/geojson/buildings?bbox={BBOX}", None, READERS, 200),
        ("GET", f"{API}/geojson/grids?bbox={BBOX}", None, READERS, 200),
        ("GET", f"{API}/organisations/{oid}", None, READERS, 200),
        ("POST", f"{API}/organisations", "new-org", WRITERS, 201),
        ("PATCH", f"{API}/organisations/{oid}", {"employees": 7}, WRITERS, 200),
    ]


@pytest.mark.parametrize("role", list(Role))
def test_authorisation_matrix(county_world: tuple[World, County], role: Role) -> None:
    """Every role × every registry endpoint, allowed (the exact success status) or refused
    (403 problem). The expectations are written here, apart from yitu.access.roles."""
    world, _ = county_world
    for method, path, body, allowed, ok in _endpoints(world):
        payload = _org_body() if body == "new-org" else body
        r = world.client.request(method, path, json=payload, headers=world.headers(role))
        if role in allowed:
            assert r.status_code == ok, (role, method, path, r.status_code, r.text)
        else:
            assert r.status_code == 403, (role, method, path, r.status_code)
            assert r.headers["content-type"].startswith("application/problem+json")


def test_no_raw_personal_data_in_any_registry_answer(county_world: tuple[World, County]) -> None:
    world, _ = county_world
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        raw = [(p.id_number, p.phone) for p in s.scalars(select(Person))]
    for role in READERS:
        for method, path, body, _allowed, _ok in _endpoints(world):
            if method != "GET" and not path.endswith("/search"):
                continue  # organisation writes and the polygon query carry no people
            text = world.client.request(method, path, json=body, headers=world.headers(role)).text
            for number, phone in raw:
                assert number not in text and (not phone or phone not in text), (role, path)


def test_search_by_each_key_is_masked_and_audited(county_world: tuple[World, County]) -> None:
    world, _ = county_world
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        p = s.scalars(select(Person).where(Person.name.like("测试%")).order_by(Person.id)).first()
        assert p is not None
        keys = {"id_number": p.id_number, "phone": p.phone, "name": p.name,
                "address": p.address[:12]}
        seq0 = s.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    for key, value in keys.items():
        r = world.client.post(f"{API}/people/search", json={key: value},
                              headers=world.headers(R.OPERATOR))
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert p.id in [i["id"] for i in items]
        assert all(i["tier"] == "L1" for i in items)
        assert p.id_number not in r.text and p.phone not in r.text
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.seq > seq0)).all()
    details = [e.detail for e in events if e.action == "search"]
    assert [f"registry by {k}" for k in keys] == details
    assert not any(v in (e.detail or "") for e in events for v in keys.values())


def test_person_detail_separation_houses_orgs(county_world: tuple[World, County]) -> None:
    world, county = county_world
    for pid in county.person_ids:
        r = world.client.get(f"{API}/people/{pid}", headers=world.headers(R.OPERATOR))
        assert r.status_code == 200
        body = r.json()
        assert body["person"]["tier"] == "L2"
        assert any(h["current"] for h in body["houses"])
        assert any(not h["current"] for h in body["houses"])
        if pid in county.separated:
            assert body["separation"] == ["户在人不在", "人在户不在"]
        elif (pid in county.hukou or pid in county.registered_at_home
              or body["registration_type"] == "foreign"):
            assert body["separation"] == []
        else:  # 流动/寄住 with no local registration: living here, registered elsewhere
            assert body["separation"] == ["人在户不在"]
        for h in body["houses"]:
            assert not h["address"].endswith("室")  # L2 hides the room


def test_grid_worker_sees_only_their_grid(county_world: tuple[World, County]) -> None:
    world, county = county_world
    h = world.headers(R.GRID_WORKER)
    feats = world.client.get(f"{API}/geojson/buildings?bbox={BBOX}", headers=h).json()["features"]
    expected = sorted(i for i, g in county.nodes.items() if g == GRID_A)
    assert sorted(f["id"] for f in feats) == expected
    assert world.client.get(f"{API}/grids/{GRID_B}/counts", headers=h).status_code == 403
    other = next(i for i, g in county.nodes.items() if g == GRID_B)
    assert world.client.get(f"{API}/buildings/{other}", headers=h).status_code == 404
    tree = world.client.get(f"{API}/tree", headers=h).json()
    assert [n["code"] for n in tree] == [GRID_A]


def test_counts(county_world: tuple[World, County]) -> None:
    world, county = county_world
    r = world.client.get(f"{API}/grids/420682000000/counts", headers=world.headers(R.OPERATOR))
    body = r.json()
    assert body["buildings"] == len(county.building_ids)
    assert body["elderly_living_alone"] >= county.elderly_alone
    assert sum(body["rooms"].values()) == 2 * len(county.building_ids)
    cell = world.client.get(f"{API}/cells/{encode(111.67, 32.38, 3)}/people",
                            headers=world.headers(R.OPERATOR)).json()
    assert cell["total"] == len(county.person_ids)


def test_problems(county_world: tuple[World, County], monkeypatch: pytest.MonkeyPatch) -> None:
    world, _ = county_world
    h = world.headers(R.OPERATOR)
    for path in (f"{API}/geojson/buildings?bbox=1,2,3", f"{API}/geojson/buildings?bbox=2,0,1,1",
                 f"{API}/cells/N99/people", f"{API}/buildings/at?lon=200&lat=1"):
        r = world.client.get(path, headers=h)
        assert r.status_code == 422, path
        assert r.headers["content-type"].startswith("application/problem+json")
    from yitu.registry import api

    monkeypatch.setattr(api, "MAX_FEATURES", 3)
    r = world.client.get(f"{API}/geojson/buildings?bbox={BBOX}", headers=h)
    assert r.status_code == 413 and "zoom in" in r.json()["detail"]
    r = world.client.post(f"{API}/people/search", json={"name": "a", "phone": "1"}, headers=h)
    assert r.status_code == 422


def _problem(r: Any, status: int, *words: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    for w in words:
        assert w in r.json()["detail"], (w, r.json()["detail"])


def test_polygon_query_matches_brute_force(
    county_world: tuple[World, County], monkeypatch: pytest.MonkeyPatch
) -> None:
    world, county = county_world
    h = world.headers(R.OPERATOR)
    polys = [
        POLYGON,
        {"type": "Polygon", "coordinates": [  # a square with a hole
            [[111.662, 32.372], [111.69, 32.372], [111.69, 32.398], [111.662, 32.398],
             [111.662, 32.372]],
            [[111.67, 32.38], [111.68, 32.38], [111.68, 32.39], [111.67, 32.39],
             [111.67, 32.38]]]},
    ]
    for geometry in polys:
        r = world.client.post(f"{API}/buildings/in-polygon", json={"geometry": geometry},
                              headers=h)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/geo+json")
        poly = shape(geometry)
        expected = sorted(i for i, f in county.footprints.items() if f.intersects(poly))
        assert expected and [f["id"] for f in r.json()["features"]] == expected
    # a grid worker gets only their grid's buildings
    r = world.client.post(f"{API}/buildings/in-polygon", json={"geometry": polys[1]},
                          headers=world.headers(R.GRID_WORKER))
    ids = [f["id"] for f in r.json()["features"]]
    assert ids and all(county.nodes[i] == GRID_A for i in ids)
    from yitu.registry import api

    monkeypatch.setattr(api, "MAX_FEATURES", 3)
    r = world.client.post(f"{API}/buildings/in-polygon", json={"geometry": polys[1]}, headers=h)
    _problem(r, 413, "zoom in")


@pytest.mark.parametrize(
    ("geometry", "words"),
    [
        ({"type": "Point", "coordinates": [111.67, 32.38]}, ["geometry.type", "Polygon"]),
        ({"type": "Polygon", "coordinates": []}, ["geometry.coordinates"]),
        ({"type": "Polygon", "coordinates": [[[111.661, 32.371], [111.671, 32.371],
                                              [111.671, 32.389], [111.662, 32.372]]]},
         ["geometry.coordinates[0]", "not closed"]),
        ({"type": "Polygon", "coordinates": [[[111.661, 32.371], [111.671, 32.371],
                                              [111.661, 32.371]]]},
         ["geometry.coordinates[0]", "at least 4"]),
        ({"type": "Polygon", "coordinates": [[[111.661, 32.371], ["x", 32.371],
                                              [111.671, 32.389], [111.661, 32.371]]]},
         ["geometry.coordinates[0][1]", "finite numbers"]),
        ({"type": "Polygon", "coordinates": [[[111.661, 32.371], [111.671, 32.389],
                                              [111.671, 32.371], [111.661, 32.389],
                                              [111.661, 32.371]]]},  # a bow tie
         ["geometry is not a valid polygon", "Self-intersection"]),
        ({"type": "Polygon", "coordinates": [[[111.75, 32.371], [111.76, 32.371],
                                              [111.76, 32.38], [111.75, 32.371]]]},
         ["geometry must lie inside the county"]),
        ({"type": "Polygon", "coordinates": [[[111.0, 32.0], [112.0, 32.0], [112.0, 33.0],
                                              [111.0, 32.0]]]},
         ["geometry covers", "km² limit"]),
    ],
)
def test_polygon_query_refuses_bad_polygons(
    county_world: tuple[World, County], geometry: dict[str, Any], words: list[str]
) -> None:
    world, _ = county_world
    r = world.client.post(f"{API}/buildings/in-polygon", json={"geometry": geometry},
                          headers=world.headers(R.OPERATOR))
    _problem(r, 422, *words)


def _audit_since(world: World, seq0: int) -> list[AuditEvent]:
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.seq > seq0)
                              .order_by(AuditEvent.seq)))


def _last_seq(world: World) -> int:
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        return int(s.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0)


def _org_count(world: World) -> int:
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        return len(s.scalars(select(Organisation.id)).all())


def test_organisation_create_and_update_are_validated_and_audited(
    county_world: tuple[World, County],
) -> None:
    world, _ = county_world
    h = world.headers(R.GRID_WORKER)
    seq0 = _last_seq(world)
    body = _org_body()
    r = world.client.post(f"{API}/organisations", json=body, headers=h)
    assert r.status_code == 201, r.text
    org = r.json()
    assert org["credit_code"] == body["credit_code"] and org["code"] == to_int(
        encode(body["lon"], body["lat"], 10))
    oid = org["id"]
    events = _audit_since(world, seq0)
    assert [(e.action, e.object_type, json.loads(e.object_ids)) for e in events] == [
        ("create", "organisation", [oid])]
    assert world.client.get(f"{API}/organisations/{oid}", headers=h).json()["name"] == body[
        "name"]

    n0 = _org_count(world)
    bad = dict(_org_body(), credit_code=body["credit_code"][:17] + (
        "0" if body["credit_code"][17] != "0" else "1"))
    _problem(world.client.post(f"{API}/organisations", json=bad, headers=h), 422,
             "credit_code check character")
    _problem(world.client.post(f"{API}/organisations", json=dict(_org_body(), credit_code="I" * 18),
                               headers=h), 422, "credit_code character 1")
    _problem(world.client.post(f"{API}/organisations", json=dict(_org_body(),
                               credit_code=body["credit_code"]), headers=h), 409, "credit_code")
    _problem(world.client.post(f"{API}/organisations", json=dict(_org_body(), kind="shop"),
                               headers=h), 422, "kind must be one of")
    _problem(world.client.post(f"{API}/organisations", json=dict(_org_body(), lon=300),
                               headers=h), 422, "lon")
    _problem(world.client.post(f"{API}/organisations", json=dict(_org_body(), node_code=GRID_B),
                               headers=h), 403, GRID_B)
    assert _org_count(world) == n0  # nothing half-stored

    seq1 = _last_seq(world)
    r = world.client.patch(f"{API}/organisations/{oid}", json={"name": "改名商行", "lon": 111.666},
                           headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "改名商行"
    assert r.json()["code"] == to_int(encode(111.666, body["lat"], 10))
    events = _audit_since(world, seq1)
    assert [(e.action, json.loads(e.object_ids), json.loads(e.fields)) for e in events] == [
        ("update", [oid], ["lon", "name"])]
    _problem(world.client.patch(f"{API}/organisations/{oid}", json={"credit_code": "1" * 18},
                                headers=h), 422, "credit_code")
    _problem(world.client.patch(f"{API}/organisations/{oid}", json={"name": None}, headers=h),
             422, "name must not be null")
    assert world.client.get(f"{API}/organisations/{oid}", headers=h).json()["name"] == "改名商行"
    assert len(_audit_since(world, seq1)) == 1  # refused changes are not recorded as changes
    # an organisation outside the caller's scope is not found, for reads and writes alike
    r = world.client.post(f"{API}/organisations", headers=world.headers(R.OPERATOR),
                          json=dict(_org_body(), node_code=GRID_B, lon=111.695))
    assert r.status_code == 201, r.text
    other = r.json()["id"]
    assert world.client.get(f"{API}/organisations/{other}", headers=h).status_code == 404
    r = world.client.patch(f"{API}/organisations/{other}", json={"employees": 1}, headers=h)
    assert r.status_code == 404


def test_building_and_person_reads_are_audited(county_world: tuple[World, County]) -> None:
    """building → rooms → residents and person → houses/organisations: every personal record
    returned is in an audit record (ids, fields, purpose), with masked answers."""
    world, _ = county_world
    h = world.headers(R.MEDIATOR)
    bid, pid = _ids(world)
    seq0 = _last_seq(world)
    r = world.client.get(f"{API}/buildings/{bid}", headers=h)
    assert r.status_code == 200
    residents = sorted({p["person"]["id"] for room in r.json()["rooms"]
                        for p in room["residents"]})
    assert residents and all(p["person"]["tier"] == "L1" for room in r.json()["rooms"]
                             for p in room["residents"])
    r = world.client.get(f"{API}/people/{pid}", headers=h)
    assert r.status_code == 200 and r.json()["person"]["tier"] == "L2"
    events = _audit_since(world, seq0)
    assert [(e.action, json.loads(e.object_ids), e.purpose) for e in events] == [
        ("view", residents, "list"), ("view", [pid], "detail")]
    assert all(json.loads(e.fields) for e in events)
