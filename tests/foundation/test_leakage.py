"""Jurisdiction leakage: a grid worker never sees a neighbouring grid's person, through any
endpoint, filter, sort, count, cursor or error message; and the query layer enforces it alone."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from foundation.world import (
    GRID_A,
    GRID_A2,
    GRID_B,
    GRID_NEIGHBOUR,
    TOWN_A,
    TOWN_B,
    VILLAGE_A1,
    World,
)
from yitu.access.jurisdiction import get_node
from yitu.access.roles import Role
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED, resolve_scope
from yitu.core.pagination import encode_cursor
from yitu.people.models import Person

GW = Role.GRID_WORKER
SORTS = ["id", "-id", "created_at", "-created_at", "node", "-node"]
FILTERS = ["", "gender=M", "gender=F", "age_min=60", "age_max=60", "age_min=0&age_max=150"]


def _forbidden_strings(world: World, *grids: str) -> list[str]:
    out: list[str] = []
    for p in world.people_in(*grids):
        out += [p.name, p.id_number, p.phone, p.id_number[-4:] and p.id_number[:6] + "*"]
    return out


def _walk(world: World, role: Role, query: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    url = f"/api/v1/people?limit=1&{query}"
    for _ in range(50):
        r = world.client.get(url, headers=world.headers(role))
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        if not body["next_cursor"]:
            return items
        url = f"/api/v1/people?limit=1&{query}&cursor={body['next_cursor']}"
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("filt", FILTERS)
def test_list_every_sort_and_filter_stays_in_grid(world: World, sort: str, filt: str) -> None:
    own = {p.id for p in world.people_in(GRID_A)}
    items = _walk(world, GW, f"sort={sort}&{filt}")
    assert {i["id"] for i in items} <= own
    assert len(items) == len({i["id"] for i in items})
    if not filt:
        assert {i["id"] for i in items} == own


@pytest.mark.parametrize("filt", FILTERS)
def test_count_only_counts_own_grid(world: World, filt: str) -> None:
    r = world.client.get(f"/api/v1/people/count?{filt}", headers=world.headers(GW))
    listed = _walk(world, GW, filt)
    assert r.json()["count"] == len(listed)
    if not filt:
        assert r.json()["count"] == len(world.people_in(GRID_A))


def test_neighbour_by_id_looks_exactly_like_a_missing_id(world: World) -> None:
    neighbour = world.people_in(GRID_NEIGHBOUR)[0]
    r1 = world.client.get(f"/api/v1/people/{neighbour.id}", headers=world.headers(GW))
    r2 = world.client.get("/api/v1/people/999999", headers=world.headers(GW))
    assert r1.status_code == r2.status_code == 404
    b1, b2 = r1.json(), r2.json()
    for body in (b1, b2):
        body.pop("request_id"), body.pop("instance")
    assert b1["detail"].replace(str(neighbour.id), "N") == b2["detail"].replace("999999", "N")
    assert {k: v for k, v in b1.items() if k != "detail"} == {
        k: v for k, v in b2.items() if k != "detail"
    }
    assert not any(s in r1.text for s in _forbidden_strings(world, GRID_NEIGHBOUR))


@pytest.mark.parametrize("key", ["id_number", "phone", "name"])
def test_search_never_finds_the_neighbour(world: World, key: str) -> None:
    for p in world.people_in(GRID_NEIGHBOUR, GRID_B):
        r = world.client.post(
            "/api/v1/people/search", json={key: getattr(p, key)}, headers=world.headers(GW)
        )
        assert r.status_code == 200
        assert r.json()["items"] == [] or all(
            i["id"] in {q.id for q in world.people_in(GRID_A)} for i in r.json()["items"]
        )


@pytest.mark.parametrize("node", [GRID_NEIGHBOUR, VILLAGE_A1, TOWN_A, GRID_B, "420682000000"])
def test_filter_on_a_node_outside_scope_is_refused_without_data(world: World, node: str) -> None:
    r = world.client.get(f"/api/v1/people?node={node}", headers=world.headers(GW))
    assert r.status_code == 403
    assert "outside your scope" in r.json()["detail"]
    assert not any(s in r.text for s in _forbidden_strings(world, GRID_NEIGHBOUR, GRID_B))
    c = world.client.get(f"/api/v1/people/count?node={node}", headers=world.headers(GW))
    assert c.status_code == 403


@pytest.mark.parametrize("sort", SORTS)
def test_forged_cursors_do_not_open_other_grids(world: World, sort: str) -> None:
    own = {p.id for p in world.people_in(GRID_A)}
    for values in ([0, 0], [-1, -1], [10**9, 10**9], ["2000-01-01T00:00:00+00:00", 0]):
        if sort.lstrip("-") == "created_at" and not isinstance(values[0], str):
            continue
        cursor = encode_cursor(values)
        r = world.client.get(
            f"/api/v1/people?sort={sort}&cursor={cursor}", headers=world.headers(GW)
        )
        if sort.lstrip("-") != "created_at" and isinstance(values[0], str):
            assert r.status_code == 422 and "cursor" in r.json()["detail"]
            continue
        assert r.status_code == 200, r.text
        assert {i["id"] for i in r.json()["items"]} <= own


def test_broken_cursor_is_a_clear_error(world: World) -> None:
    r = world.client.get("/api/v1/people?cursor=!!notbase64", headers=world.headers(GW))
    assert r.status_code == 422
    assert "cursor" in r.json()["detail"]


def test_township_officer_sees_own_town_only_everywhere(world: World) -> None:
    role = Role.TOWNSHIP_OFFICER
    own = {p.id for p in world.people_in(GRID_A, GRID_NEIGHBOUR, GRID_A2)}
    assert {i["id"] for i in _walk(world, role, "")} == own
    csv_text = world.client.get("/api/v1/people/export.csv", headers=world.headers(role)).text
    exported = {int(line.split(",")[0]) for line in csv_text.strip().splitlines()[1:]}
    assert exported == own
    other = world.people_in(GRID_B)[0]
    assert (
        world.client.get(f"/api/v1/people/{other.id}", headers=world.headers(role)).status_code
        == 404
    )
    r = world.client.post(
        f"/api/v1/people/{other.id}/break-glass",
        json={"reason": "checking a neighbouring town"},
        headers=world.headers(role),
    )
    assert r.status_code == 404


def test_mediator_village_scope_covers_its_grids_only(world: World) -> None:
    own = {p.id for p in world.people_in(GRID_A, GRID_NEIGHBOUR)}
    assert {i["id"] for i in _walk(world, Role.MEDIATOR, "")} == own


def test_create_outside_scope_is_refused(world: World) -> None:
    r = world.client.post(
        "/api/v1/people",
        json={
            "name": "钱多",
            "id_number": world.people[0].id_number,
            "phone": "",
            "address": "",
            "node_code": GRID_NEIGHBOUR,
        },
        headers=world.headers(GW),
    )
    assert r.status_code == 403


def test_audit_records_only_what_was_seen(world: World) -> None:
    world.client.get("/api/v1/people", headers=world.headers(GW))
    r = world.client.get(
        "/api/v1/audit/events?action=view&actor=u_grid_worker",
        headers=world.headers(Role.AUDIT_ADMIN),
    )
    own = {p.id for p in world.people_in(GRID_A)}
    seen = {i for e in r.json()["items"] for i in e["object_ids"]}
    assert seen and seen <= own


# The query layer alone, without the API: the scope is applied to any ORM statement.


def _scoped(world: World, *codes: str):  # type: ignore[no-untyped-def]
    session = world.platform.db.sessions()
    with world.platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        ids = [get_node(s, c).id for c in codes]
        scope = resolve_scope(s, ids)
    session.info[SCOPE_KEY] = scope
    return session


def test_query_layer_filters_get_count_alias_and_update(world: World) -> None:
    own = {p.id for p in world.people_in(GRID_A)}
    neighbour = world.people_in(GRID_NEIGHBOUR)[0]
    with _scoped(world, GRID_A) as session:
        assert session.get(Person, neighbour.id) is None
        assert set(session.scalars(select(Person.id))) == own
        assert session.scalar(select(func.count()).select_from(Person)) == len(own)
        alias = aliased(Person)
        assert set(session.scalars(select(alias.id))) == own
        joined = select(Person.id).join(alias, alias.node_id == Person.node_id)
        assert set(session.scalars(joined)) <= own
        result = session.execute(
            update(Person).where(Person.id == neighbour.id).values(address="moved"),
            execution_options={"synchronize_session": False},
        )
        assert result.rowcount == 0
        session.rollback()


def test_session_without_scope_sees_nothing(world: World) -> None:
    with world.platform.db.sessions() as session:
        assert session.scalars(select(Person)).all() == []
        assert session.scalar(select(func.count()).select_from(Person)) == 0


def test_scope_of_two_nodes_is_their_union(world: World) -> None:
    with _scoped(world, GRID_A, TOWN_B) as session:
        ids = set(session.scalars(select(Person.id)))
    assert ids == {p.id for p in world.people_in(GRID_A, GRID_B)}


def test_audit_log_payload_names_no_person(world: World) -> None:
    world.client.post(
        "/api/v1/people/search",
        json={"id_number": world.people[0].id_number},
        headers=world.headers(Role.OPERATOR),
    )
    r = world.client.get("/api/v1/audit/events?limit=200", headers=world.headers(Role.AUDIT_ADMIN))
    text = json.dumps(r.json(), ensure_ascii=False)
    for p in world.people:
        assert p.id_number not in text and p.phone not in text and p.name not in text
