"""Survivorship (choose_fields): a person's ID number and birth date come from a record that holds
both — never from a record kept without a birth date (a passport number in a source with no
birth-date column, or a row whose ID number was lost)."""

from __future__ import annotations

from datetime import date
from typing import Any

from yitu.intake.linkage import choose_fields


def _rec(rid: int, id_number: str, birth: date | None, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": rid,
        "id_number": id_number,
        "birth_date": birth,
        "gender": "M",
        "name": "王伟",
        "phone": "",
        "address": "",
        "address_id": None,
        "node_id": 7,
        "observed_on": None,
        "relation": "",
    }
    base.update(kw)
    return base


def test_a_passport_number_without_birth_date_does_not_lose_the_birth_date() -> None:
    # Two grid-survey rows (no birth-date column) outvote the one police row with the date.
    recs = [
        _rec(1, "E12345678", None),
        _rec(2, "E12345678", None),
        _rec(3, "E12345678", date(1980, 5, 1), gender="F"),
    ]
    chosen = choose_fields(recs)
    assert chosen["id_number"] == ("E12345678", 3)
    assert chosen["birth_date"] == (date(1980, 5, 1), 3)
    assert chosen["gender"] == "F"


def test_without_any_number_the_birth_date_comes_from_a_dated_record() -> None:
    recs = [_rec(1, "", None), _rec(2, "", date(1950, 1, 2))]
    chosen = choose_fields(recs)
    assert chosen["id_number"] == ("", None)
    assert chosen["birth_date"] == (date(1950, 1, 2), 2)
