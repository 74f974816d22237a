"""Masking (§C5): the rules themselves, and that every output is masked for role and purpose."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from foundation.world import GRID_A, World
from yitu.access.masking import (
    Purpose,
    Tier,
    age_band,
    mask_address,
    mask_id_number,
    mask_name,
    mask_phone,
    tier_for,
)
from yitu.access.roles import Role
from yitu.core.errors import ForbiddenError, InvalidInputError
from yitu.people.idnumber import make_id_number, parse_id_number

ID = "51343620000320711X"


@pytest.mark.parametrize(
    ("tier", "expected"),
    [
        (Tier.L0, None),
        (Tier.L1, "513***********711X"),
        (Tier.L2, "513436********711X"),
        (Tier.L3, ID),
    ],
)
def test_id_number_tiers_hide_the_birth_date(tier: Tier, expected: str | None) -> None:
    masked = mask_id_number(ID, tier)
    assert masked == expected
    if masked and tier < Tier.L3:
        assert "20000320" not in masked and len(masked) == 18


@pytest.mark.parametrize(
    ("name", "tier", "expected"),
    [
        ("段正淳", Tier.L0, "段某"),
        ("段正淳", Tier.L1, "段*淳"),
        ("张明", Tier.L1, "张*"),
        ("欧阳明月", Tier.L1, "欧**月"),
        ("段正淳", Tier.L2, "段正淳"),
        ("段正淳", Tier.L3, "段正淳"),
    ],
)
def test_name(name: str, tier: Tier, expected: str) -> None:
    assert mask_name(name, tier) == expected


def test_phone() -> None:
    assert mask_phone("18012341999", Tier.L0) is None
    assert mask_phone("18012341999", Tier.L1) == "180****1999"
    assert mask_phone("18012341999", Tier.L2) == "180****1999"
    assert mask_phone("18012341999", Tier.L3) == "18012341999"
    assert mask_phone("07108123479", Tier.L1) == "071****3479"
    assert mask_phone("0710812379", Tier.L1) == "0710****79"  # landline: first 4, last 2


def test_address() -> None:
    full = "光化街道小东门社区幸福小区3栋2单元501室"
    assert mask_address(full, Tier.L0) == "光化街道小东门社区***"
    assert mask_address(full, Tier.L1) == "光化街道小东门社区幸福小区3栋***"
    assert mask_address(full, Tier.L2) == "光化街道小东门社区幸福小区3栋***"
    assert mask_address(full, Tier.L3) == full
    village = "孟楼镇小黄营村5组18号"
    assert mask_address(village, Tier.L0) == "孟楼镇小黄营村***"
    assert mask_address(village, Tier.L1) == "孟楼镇小黄营村5组***"


def test_age_band() -> None:
    assert [age_band(a) for a in (61, 79, 80, 95)] == ["60-69", "70-79", "80+", "80+"]


def test_tiers_by_role_and_purpose() -> None:
    assert tier_for(Role.GRID_WORKER, Purpose.LIST) == Tier.L1
    assert tier_for(Role.GRID_WORKER, Purpose.DETAIL) == Tier.L2
    assert tier_for(Role.OPERATOR, Purpose.BREAK_GLASS) == Tier.L3
    for role, purpose in [
        (Role.GRID_WORKER, Purpose.BREAK_GLASS),
        (Role.SYS_ADMIN, Purpose.LIST),
        (Role.AUDIT_ADMIN, Purpose.REPORT),
        (Role.COURT_LIAISON, Purpose.DETAIL),
        (None, Purpose.LIST),
    ]:
        with pytest.raises(ForbiddenError):
            tier_for(role, purpose)


def test_id_number_validation_never_echoes_the_number() -> None:
    good = make_id_number("420682", date(1956, 3, 9), 17)
    assert parse_id_number(good)[1:] == (date(1956, 3, 9), "M")
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    for value in (bad, "12345", "42068219561340017X"):
        with pytest.raises(InvalidInputError) as err:
            parse_id_number(value)
        assert value not in str(err.value)


# Every output of the API, for every role that can read.

READERS = [
    Role.OPERATOR,
    Role.DEPT_HANDLER,
    Role.TOWNSHIP_OFFICER,
    Role.GRID_WORKER,
    Role.ELDERCARE_OPERATOR,
    Role.MEDIATOR,
]


def _assert_no_raw(world: World, body: str) -> None:
    for p in world.people:
        assert p.id_number not in body, "raw ID number in output"
        assert p.phone not in body, "raw phone in output"
        assert p.address not in body, "full address in a masked output"


@pytest.mark.parametrize("role", READERS)
def test_list_search_count_are_l1(world: World, role: Role) -> None:
    h = world.headers(role)
    person = world.people_in(GRID_A)[0]
    outputs = [
        world.client.get("/api/v1/people?limit=200", headers=h),
        world.client.post("/api/v1/people/search", json={"id_number": person.id_number}, headers=h),
        world.client.post("/api/v1/people/search", json={"phone": person.phone}, headers=h),
        world.client.get("/api/v1/people/count", headers=h),
    ]
    for r in outputs:
        assert r.status_code == 200
        _assert_no_raw(world, r.text)
    items = outputs[0].json()["items"] + outputs[1].json()["items"]
    assert items and all(i["tier"] == "L1" and "*" in i["name"] for i in items)
    assert outputs[1].json()["items"][0]["id_number"] == (
        person.id_number[:3] + "*" * 11 + person.id_number[-4:]
    )
    assert all(i["birth_date"] is None and isinstance(i["age"], int) for i in items)


@pytest.mark.parametrize("role", READERS)
def test_detail_is_l2(world: World, role: Role) -> None:
    person = world.people_in(GRID_A)[1]
    r = world.client.get(f"/api/v1/people/{person.id}", headers=world.headers(role))
    body = r.json()
    assert body["tier"] == "L2" and body["name"] == person.name
    assert body["id_number"] == person.id_number[:6] + "*" * 8 + person.id_number[-4:]
    assert body["phone"] == person.phone[:3] + "****" + person.phone[-4:]
    assert body["address"].endswith("***") and body["birth_date"] is None
    _assert_no_raw(world, r.text)


def test_break_glass_is_l3_and_needs_a_reason(world: World) -> None:
    person = world.people_in(GRID_A)[2]
    h = world.headers(Role.OPERATOR)
    short = world.client.post(
        f"/api/v1/people/{person.id}/break-glass", json={"reason": "x"}, headers=h
    )
    assert short.status_code == 422 and "reason" in short.json()["detail"]
    missing = world.client.post(f"/api/v1/people/{person.id}/break-glass", json={}, headers=h)
    assert missing.status_code == 422
    r = world.client.post(
        f"/api/v1/people/{person.id}/break-glass",
        json={"reason": "welfare check after a fall alarm"},
        headers=h,
    )
    body = r.json()
    assert body["tier"] == "L3" and body["id_number"] == person.id_number
    assert body["phone"] == person.phone and body["address"] == person.address
    assert body["birth_date"] is not None


def test_export_is_l1(world: World) -> None:
    r = world.client.get("/api/v1/people/export.csv", headers=world.headers(Role.OPERATOR))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == len(world.people)
    _assert_no_raw(world, r.text)
    assert all("*" in row["id_number"] and "*" in row["phone"] for row in rows)


def test_create_answers_masked_and_rejects_bad_input_without_echo(world: World) -> None:
    h = world.headers(Role.GRID_WORKER)
    number = make_id_number("420682", date(1948, 8, 8), 321)
    bad = number[:-1] + ("1" if number[-1] != "1" else "2")
    r = world.client.post(
        "/api/v1/people",
        headers=h,
        json={
            "name": "吴国强",
            "id_number": bad,
            "phone": "13700001111",
            "address": "小东门社区",
            "node_code": GRID_A,
        },
    )
    assert r.status_code == 422 and r.json()["detail"] == "id_number check digit is wrong"
    assert bad not in r.text and "13700001111" not in r.text
    r = world.client.post(
        "/api/v1/people",
        headers=h,
        json={
            "name": "吴国强",
            "id_number": number,
            "phone": "13700001111",
            "address": "小东门社区",
            "node_code": GRID_A,
        },
    )
    assert r.status_code == 201
    assert number not in r.text and "13700001111" not in r.text
    assert r.json()["gender"] == "M" and r.json()["tier"] == "L2"


def test_validation_errors_do_not_echo_input(world: World) -> None:
    r = world.client.post(
        "/api/v1/people/search",
        headers=world.headers(Role.OPERATOR),
        json={"id_number": "4206821956030900171234"},
    )
    assert r.status_code == 422 and "id_number" in r.json()["detail"]
    assert "4206821956030900171234" not in r.text
