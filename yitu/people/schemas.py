"""API shapes for people, and the masking serializer (the only way a Person leaves the server)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, Protocol

from pydantic import BaseModel, Field
from pydantic_core import to_json

from yitu.access.masking import Tier, age_band, age_on, maskers


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
    return person_dicts([person], tier, today)[0]


def person_dicts(people: Iterable[PersonLike], tier: Tier, today: date) -> list[dict[str, Any]]:
    """``person_dict`` for many people."""
    return masked_rows(
        [
            (p.id, p.node_id, p.name, p.id_number, p.phone, p.address, p.gender, p.birth_date)
            for p in people
        ],
        tier,
        today,
    )


def masked_rows(rows: Iterable[Sequence[Any]], tier: Tier, today: date) -> list[dict[str, Any]]:
    """``person_dict`` for rows whose first columns are, in order, id, node_id, name, id_number,
    phone, address, gender, birth_date (``people.services.PERSON_COLUMNS``); later ones are
    ignored. Positional, because a SQLAlchemy row's attribute access costs more than the
    masking, and the tier's maskers are looked up once, not per field."""
    name, id_number, phone, address = maskers(tier)
    label, l0, l3 = tier.name, tier == Tier.L0, tier == Tier.L3
    out = []
    for pid, node_id, raw_name, raw_id, raw_phone, raw_address, gender, born, *_ in rows:
        age = age_on(born, today)
        out.append(
            {
                "id": pid,
                "node_id": node_id,
                "tier": label,
                "name": name(raw_name),
                "id_number": id_number(raw_id),
                "phone": phone(raw_phone),
                "address": address(raw_address),
                "gender": gender,
                "age": None if l0 else age,
                "age_band": age_band(age) if l0 else None,
                "birth_date": born if l3 else None,
            }
        )
    return out


def person_out(person: PersonLike, tier: Tier, today: date) -> PersonOut:
    return PersonOut(**person_dict(person, tier, today))


def page_json(items: list[dict[str, Any]], next_cursor: str | None) -> bytes:
    """A ``PersonPage`` as JSON bytes, from ``person_dict`` items (no model per row)."""
    return to_json({"items": items, "next_cursor": next_cursor})


class PersonPage(BaseModel):
    items: list[PersonOut]
    next_cursor: str | None


class PersonListQuery(BaseModel):
    """The list endpoint's query parameters (parsed by ``yitu.api.query.QueryModel``)."""

    node: str | None = Field(None, description="jurisdiction code; its whole subtree")
    gender: str | None = Field(None, pattern="^[MF]$")
    age_min: int | None = Field(None, ge=0, le=150)
    age_max: int | None = Field(None, ge=0, le=150)
    sort: str = Field("id", description="id, created_at or node; a leading '-' for descending")
    cursor: str | None = Field(None, description="next_cursor of the previous page")
    limit: int | None = Field(None, description="page size (default and maximum per settings)")


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
