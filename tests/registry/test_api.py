"""Registry API: every role × endpoint, masking/leakage, audit, scope, problems."""

from __future__ import annotations

from typing import Any

import pytest
from foundation.world import GRID_A, GRID_B, World
from sqlalchemy import select

from registry.county import EDGE_LAT, EDGE_LON, County
from yitu.access.roles import Role
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.audit.models import AuditEvent
from yitu.grid import encode
from yitu.people.models import Person
from yitu.registry.models import Building

R = Role
READERS = frozenset({R.OPERATOR, R.DEPT_HANDLER, R.TOWNSHIP_OFFICER, R.GRID_WORKER,
                     R.ELDERCARE_OPERATOR, R.MEDIATOR})
BBOX = "111.66,32.37,111.69,32.40"
API = "/api/v1/registry"


def _ids(world: World) -> tuple[int, int]:
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        b = s.scalars(select(Building).where(Building.name == "1号楼")).one()
        grid_a = b.node_id
        p = s.scalars(select(Person).where(Person.node_id == grid_a, Person.name.like("测试%"))
                      .order_by(Person.id)).first()
        assert p is not None
        return b.id, p.id


def _endpoints(world: World) -> list[tuple[str, str, dict[str, Any] | None]]:
    bid, pid = _ids(world)
    return [
        ("POST", f"{API}/people/search", {"name": "张明"}),
        ("GET", f"{API}/people/{pid}", None),
        ("GET", f"{API}/buildings/{bid}", None),
        ("GET", f"{API}/buildings/at?lon={EDGE_LON}&lat={EDGE_LAT}", None),
        ("GET", f"{API}/buildings/nearest?lon=111.67&lat=32.38", None),
        ("GET", f"{API}/cells/{encode(111.67, 32.38, 5)}/people", None),
        ("GET", f"{API}/grids/{GRID_A}/counts", None),
        ("GET", f"{API}/tree", None),
        ("GET", f"{API}/geojson/buildings?bbox={BBOX}", None),
        ("GET", f"{API}/geojson/grids?bbox={BBOX}", None),
    ]


@pytest.mark.parametrize("role", list(Role))
def test_authorisation_matrix(county_world: tuple[World, County], role: Role) -> None:
    world, _ = county_world
    for method, path, body in _endpoints(world):
        r = world.client.request(method, path, json=body, headers=world.headers(role))
        if role in READERS:
            # outside the grid worker's grid / mediator's village answers 404 or 403, never data
            assert r.status_code in (200, 403, 404), (path, r.status_code, r.text)
        else:
            assert r.status_code == 403, (role, path, r.status_code)
            assert r.headers["content-type"].startswith("application/problem+json")


def test_no_raw_personal_data_in_any_registry_answer(county_world: tuple[World, County]) -> None:
    world, _ = county_world
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        raw = [(p.id_number, p.phone) for p in s.scalars(select(Person))]
    for role in READERS:
        for method, path, body in _endpoints(world):
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
