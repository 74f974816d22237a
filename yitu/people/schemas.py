"""API shapes for people, and the masking serializer (the only way a Person leaves the server)."""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from pydantic import BaseModel, Field
from pydantic_core import to_json

from yitu.access.masking import (
    Tier,
    age_band,
    age_on,
    mask_address,
    mask_id_number,
    mask_name,
    mask_phone,
)


class PersonOut(BaseModel):
    id: int
    node_id: int
    tier: str = Field(description="masking tier applied: L0 report, L1 list, L2 detail, L3 full")
    name: str
    id_number: str | None
    phone: str | None
    address: str
    gender: str
    age: int | None = None
    age_band: str | None = None
    birth_date: date | None = None


FIELDS_BY_TIER = {
    Tier.L0: ["name", "address"],
    Tier.L1: ["name", "id_number", "phone", "address"],
    Tier.L2: ["name", "id_number", "phone", "address"],
    Tier.L3: ["name", "id_number", "phone", "address", "birth_date"],
}


class PersonLike(Protocol):
    """A Person entity or a row of its columns (lists select columns only)."""

    id: int
    node_id: int
    name: str
    id_number: str
    phone: str
    address: str
    gender: str
    birth_date: date


def person_dict(person: PersonLike, tier: Tier, today: date) -> dict[str, Any]:
    """The masked fields of ``PersonOut`` as a plain dict (lists serialise these directly)."""
    age = age_on(person.birth_date, today)
    return {
        "id": person.id,
        "node_id": person.node_id,
        "tier": tier.name,
        "name": mask_name(person.name, tier),
        "id_number": mask_id_number(person.id_number, tier),
        "phone": mask_phone(person.phone, tier),
        "address": mask_address(person.address, tier),
        "gender": person.gender,
        "age": age if tier >= Tier.L1 else None,
        "age_band": age_band(age) if tier == Tier.L0 else None,
        "birth_date": person.birth_date if tier == Tier.L3 else None,
    }


def person_out(person: PersonLike, tier: Tier, today: date) -> PersonOut:
    return PersonOut(**person_dict(person, tier, today))


def page_json(items: list[dict[str, Any]], next_cursor: str | None) -> bytes:
    """A ``PersonPage`` as JSON bytes, from ``person_dict`` items (no model per row)."""
    return to_json({"items": items, "next_cursor": next_cursor})


class PersonPage(BaseModel):
    items: list[PersonOut]
    next_cursor: str | None


class PersonCount(BaseModel):
    count: int


class PersonSearch(BaseModel):
    id_number: str | None = Field(None, max_length=18)
    phone: str | None = Field(None, max_length=20)
    name: str | None = Field(None, max_length=50)
    limit: int = Field(20, ge=1, le=100)


class PersonCreate(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    id_number: str = Field(min_length=18, max_length=18)
    phone: str = Field("", max_length=20)
    address: str = Field("", max_length=200)
    node_code: str = Field(description="jurisdiction node (grid or village) the person lives in")


class BreakGlass(BaseModel):
    reason: str = Field(min_length=10, max_length=500, description="why the full record is needed")
