"""公民身份号码 (GB 11643-1999): validation, birth date and gender."""

from __future__ import annotations

from datetime import date
from operator import mul

from yitu.core.errors import InvalidInputError

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_digit(first17: str) -> str:
    if len(first17) != 17:
        raise ValueError("the check digit is computed from 17 digits")
    # map over the digits: a generator of products cost more than the rest of an ID's check
    # when a county's 1.9 M imported rows are cleaned
    return _CHECK[sum(map(mul, map(int, first17), _WEIGHTS)) % 11]


def parse_id_number(value: str) -> tuple[str, date, str]:
    """Return (normalised number, birth date, gender). Errors never echo the number itself."""
    number = value.strip().upper()
    if (
        len(number) != 18
        or not number[:17].isdigit()
        or not (number[17].isdigit() or number[17] == "X")
    ):
        raise InvalidInputError("id_number must be 18 characters: 17 digits and a digit or X")
    if check_digit(number[:17]) != number[17]:
        raise InvalidInputError("id_number check digit is wrong")
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise InvalidInputError("id_number holds an impossible birth date") from exc
    return number, birth, "M" if int(number[16]) % 2 else "F"


def make_id_number(region: str, birth: date, serial: int) -> str:
    """A valid number for demo data and tests: 6-digit region, birth date, 3-digit serial."""
    first17 = f"{region[:6]}{birth:%Y%m%d}{serial % 1000:03d}"
    return first17 + check_digit(first17)
