"""clean_phone: mobiles and landlines in the spellings departments use; idempotence."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yitu.intake.clean import INFORMATIONAL, clean_phone

MOBILE = "13812345678"


@pytest.mark.parametrize(
    ("raw", "value", "codes"),
    [
        (MOBILE, MOBILE, ()),
        ("138 1234 5678", MOBILE, ()),
        ("138-1234-5678", MOBILE, ()),
        ("+86 138 1234 5678", MOBILE, ()),
        ("+8613812345678", MOBILE, ()),
        ("008613812345678", MOBILE, ()),
        ("8613812345678", MOBILE, ()),
        ("１３８１２３４５６７８", MOBILE, ()),
        ("13812345678.0", MOBILE, ()),
        ("13812345678/13987654321", MOBILE, ("phone_multiple",)),
        ("13812345678，0710-8888888", MOBILE, ("phone_multiple",)),
        ("0710-8123456", "0710-8123456", ()),
        ("07108123456", "0710-8123456", ()),
        ("(0710)81234567", "0710-81234567", ()),
        ("（0710）8123456", "0710-8123456", ()),
        ("010-62345678", "010-62345678", ()),
        ("027 87654321", "027-87654321", ()),
        ("+86 710 8123456", "0710-8123456", ()),
        ("8123456", "0710-8123456", ("phone_landline_default_area",)),
        ("81234567", "0710-81234567", ("phone_landline_default_area",)),
        (None, None, ("phone_missing",)),
        (" ", None, ("phone_missing",)),
        ("1381234567", None, ("phone_format",)),  # a digit missing
        ("138123456789", None, ("phone_format",)),  # a digit too many
        ("12812345678", None, ("phone_format",)),  # no such mobile prefix
        ("0710-123", None, ("phone_format",)),
        ("无", None, ("phone_format",)),
    ],
)
def test_rules(raw: str | None, value: str | None, codes: tuple[str, ...]) -> None:
    got = clean_phone(raw)
    assert got.value == value
    assert got.codes == codes


def test_messages_never_hold_the_number() -> None:
    for raw in ("1381234567", "138123456789", "13812345678/13987654321", "8123456"):
        for issue in clean_phone(raw).issues:
            assert raw[:7] not in issue.message


def test_bad_ones_keep_their_digits_as_candidate() -> None:
    assert clean_phone("138-1234-567").candidate == "1381234567"
    assert clean_phone(MOBILE).candidate is None


@given(st.text(alphabet="0123456789+-() ０１２３４５６７８９/", max_size=20))
def test_idempotent(raw: str) -> None:
    first = clean_phone(raw)
    if first.value is not None:
        again = clean_phone(first.value)
        assert again.value == first.value and again.issues == ()
    assert all(i.code in INFORMATIONAL for i in first.issues) == (first.value is not None)


@given(
    st.sampled_from(["13", "15", "17", "18", "19"]),
    st.integers(0, 999_999_999),
    st.sampled_from(["{}", "+86 {}", "0086{}", "{0}-{1}-{2}", "{0} {1} {2}"]),
)
def test_mobile_spellings_round_trip(prefix: str, rest: int, style: str) -> None:
    number = f"{prefix}{rest:09d}"
    raw = (
        style.format(number[:3], number[3:7], number[7:])
        if "{0}" in style
        else style.format(number)
    )
    assert clean_phone(raw).value == number
