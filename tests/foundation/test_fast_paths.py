"""The hot list path's shortcuts keep the contract: its query parameters are validated and
documented like FastAPI's own, and the per-tier maskers apply the §C5 rules exactly."""

from __future__ import annotations

import re
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from foundation.world import World
from yitu.access.masking import (
    Tier,
    age_band,
    age_on,
    mask_address,
    mask_id_number,
    mask_name,
    mask_phone,
)
from yitu.access.roles import Role
from yitu.people.schemas import masked_rows

LIST_PARAMS = {"node", "gender", "age_min", "age_max", "sort", "cursor", "limit"}


def test_list_query_parameters_are_in_openapi(world: World) -> None:
    op = world.client.get("/openapi.json").json()["paths"]["/api/v1/people"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert set(params) == LIST_PARAMS
    assert all(p["in"] == "query" and not p["required"] for p in params.values())
    assert params["age_min"]["schema"]["anyOf"][0] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 150,
    }


def test_bad_query_value_names_the_field_not_the_value(world: World) -> None:
    h = world.headers(Role.OPERATOR)
    r = world.client.get("/api/v1/people?age_min=13800138000", headers=h)
    assert r.status_code == 422
    body = r.json()
    assert body["errors"] == [
        {"field": "query.age_min", "message": "Input should be less than or equal to 150"}
    ]
    assert "13800138000" not in r.text
    r = world.client.get("/api/v1/people?age_max=old", headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.age_max"


def test_unknown_and_repeated_parameters_behave_like_fastapi(world: World) -> None:
    h = world.headers(Role.OPERATOR)
    r = world.client.get("/api/v1/people?limit=3&colour=red", headers=h)
    assert r.status_code == 200 and len(r.json()["items"]) == 3
    r = world.client.get("/api/v1/people?limit=50&limit=2", headers=h)  # the last one counts
    assert r.status_code == 200 and len(r.json()["items"]) == 2


# The L1/L0 address rules written the plain way (every match listed): the oracle for the
# per-tier functions, which find the last match with one backtracking regex instead.
_VILLAGE = re.compile(r"(村委会|居委会|社区|村)")
_BUILDING = re.compile(r"(\d+\s*(栋|幢|号楼|组)|小区)")


def _plain_address(value: str, tier: Tier) -> str:
    if not value:
        return value
    pattern = _VILLAGE if tier == Tier.L0 else _BUILDING
    matches = list(pattern.finditer(value))
    if tier == Tier.L1 and not matches:
        matches = list(_VILLAGE.finditer(value))
    if matches:
        end = matches[-1].end() if tier == Tier.L1 else matches[0].end()
        return value[:end] + ("***" if end < len(value) else "")
    return value[: min(6, len(value) // 2)] + "***"


_PIECES = st.sampled_from(
    [*"0123456789 单元室号楼栋幢组小区村委会居社光化街道路X\n", "号楼", "小区", "社区", "村委会"]
)
ADDRESSES = st.lists(_PIECES, max_size=30).map("".join)


@settings(max_examples=2000)
@given(ADDRESSES, st.sampled_from([Tier.L0, Tier.L1]))
def test_address_masking_matches_the_plain_rule(address: str, tier: Tier) -> None:
    assert mask_address(address, tier) == _plain_address(address, tier)


@settings(max_examples=300)
@given(
    st.integers(0, 10**6),
    st.text(max_size=6),
    ADDRESSES,
    st.dates(date(1900, 1, 1), date(2026, 11, 26)),
    st.sampled_from(list(Tier)),
)
def test_list_rows_are_masked_field_by_field(
    n: int, name: str, address: str, born: date, tier: Tier
) -> None:
    """``masked_rows`` (positional, per-tier maskers) = the per-field rules assembled one by one."""
    today = date(2026, 11, 26)
    id_number, phone = f"420682{born:%Y%m%d}{n % 9000 + 1000}", f"139{n:08d}"
    row = (n, 7, name, id_number, phone, address, "F", born, None)
    (out,) = masked_rows([row], tier, today)
    age = age_on(born, today)
    assert out == {
        "id": n,
        "node_id": 7,
        "tier": tier.name,
        "name": mask_name(name, tier),
        "id_number": mask_id_number(id_number, tier),
        "phone": mask_phone(phone, tier),
        "address": mask_address(address, tier),
        "gender": "F",
        "age": None if tier == Tier.L0 else age,
        "age_band": age_band(age) if tier == Tier.L0 else None,
        "birth_date": born if tier == Tier.L3 else None,
    }
    assert tier == Tier.L3 or (out["id_number"] or "")[6:14] != f"{born:%Y%m%d}"
