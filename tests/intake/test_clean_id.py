"""clean_id_number: table of rules, and properties (idempotent, valid numbers round-trip in any
spelling, 15 → 18 keeps birth date and sex, single-digit slips are caught)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from yitu.intake.clean import INFORMATIONAL, clean_id_number, id_birth_sex, upgrade15
from yitu.people.idnumber import check_digit, make_id_number, parse_id_number

VALID = make_id_number("420682", date(1985, 3, 2), 123)  # 4206821985030212 + check
TODAY = date(2026, 11, 26)

regions = st.sampled_from(["420682", "420602", "110101", "411323", "500101", "650102"])
births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
serials = st.integers(min_value=0, max_value=999)


def _fullwidth(text: str) -> str:
    return text.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))


@pytest.mark.parametrize(
    ("raw", "value", "codes"),
    [
        (VALID, VALID, ()),
        (f" {VALID[:6]} {VALID[6:14]} {VALID[14:]} ", VALID, ()),
        (_fullwidth(VALID), VALID, ()),
        ("'" + VALID, VALID, ()),  # Excel's text marker
        (f"{VALID[:6]}-{VALID[6:14]}-{VALID[14:]}", VALID, ()),
        ("420682850302123", make_id_number("420682", date(1985, 3, 2), 123), ("id_upgraded",)),
        ("420682850302123.0", make_id_number("420682", date(1985, 3, 2), 123), ("id_upgraded",)),
        (None, None, ("id_missing",)),
        ("  \u3000", None, ("id_missing",)),
        (VALID[:17], None, ("id_format",)),
        (VALID + "1", None, ("id_format",)),
        ("42068219850302ABCD", None, ("id_format",)),
        (VALID[:17] + ("0" if VALID[17] != "0" else "1"), None, ("id_checksum",)),
        ("000000" + VALID[6:17] + check_digit("000000" + VALID[6:17]), None, ("id_region",)),
        (
            "420682" + "19850230" + "123" + check_digit("42068219850230123"),
            None,
            ("id_birth_date",),
        ),
        (
            "420682" + "20990101" + "123" + check_digit("42068220990101123"),
            None,
            ("id_birth_date",),
        ),
        ("C4325887", "C4325887", ("id_passport",)),
        ("jp6717546", "JP6717546", ("id_passport",)),
    ],
)
def test_rules(raw: str | None, value: str | None, codes: tuple[str, ...]) -> None:
    got = clean_id_number(raw, today=TODAY)
    assert got.value == value
    assert got.codes == codes
    assert all(i.field == "id_number" for i in got.issues)


def test_lower_case_x_and_foreign_permanent_residence_number() -> None:
    body = "420682" + "19900101" + "004"
    if check_digit(body) != "X":  # find a serial whose check digit is X
        body = next(
            f"42068219900101{s:03d}"
            for s in range(1000)
            if check_digit(f"42068219900101{s:03d}") == "X"
        )
    assert clean_id_number(body + "x").value == body + "X"
    # 外国人永久居留身份证 (2023): 9 + province of issue + nationality code, GB 11643 check
    foreign = "942116" + "19990307" + "340"
    foreign += check_digit(foreign)
    assert clean_id_number(foreign).value == foreign


def test_messages_never_hold_the_number() -> None:
    for raw in (VALID[:17], VALID[:17] + "0", "000000" + VALID[6:], "420682850302123"):
        for issue in clean_id_number(raw).issues:
            assert raw[:10] not in issue.message and raw not in issue.message


def test_bad_ones_keep_a_candidate_for_fuzzy_comparison() -> None:
    wrong = VALID[:17] + ("0" if VALID[17] != "0" else "1")
    assert clean_id_number(wrong).candidate == wrong
    assert clean_id_number(VALID[:5] + VALID[6:]).candidate == VALID[:5] + VALID[6:]
    assert clean_id_number(VALID).candidate is None


@given(st.text(alphabet="0123456789xX -'０１２３４５６７８９\u3000", max_size=24))
def test_idempotent(raw: str) -> None:
    first = clean_id_number(raw)
    if first.value is not None:
        again = clean_id_number(first.value)
        assert again.value == first.value
        # Nothing left to repair; a passport number stays labelled as one.
        assert again.codes == (("id_passport",) if first.codes == ("id_passport",) else ())
    assert all(i.code in INFORMATIONAL for i in first.issues) == (first.value is not None)


@given(regions, births, serials, st.sampled_from(["plain", "spaces", "fullwidth", "lower"]))
def test_valid_numbers_round_trip(region: str, birth: date, serial: int, style: str) -> None:
    number = make_id_number(region, birth, serial)
    raw = {
        "plain": number,
        "spaces": f"{number[:6]} {number[6:14]} {number[14:]}",
        "fullwidth": _fullwidth(number),
        "lower": number.lower(),
    }[style]
    got = clean_id_number(raw)
    assert got.value == number and got.issues == ()
    assert id_birth_sex(number) == parse_id_number(number)[1:]


@given(regions, st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)), serials)
def test_old_15_digit_upgrade(region: str, birth: date, serial: int) -> None:
    old = f"{region}{birth:%y%m%d}{serial:03d}"
    got = clean_id_number(old)
    assert got.codes == ("id_upgraded",)
    number, born, sex = parse_id_number(got.value or "")  # a valid GB 11643 number
    assert born == birth
    assert sex == ("M" if serial % 2 else "F")
    assert number == make_id_number(region, birth, serial) == upgrade15(old)


@given(regions, births, serials, st.integers(0, 16), st.integers(1, 9))
def test_single_digit_slip_is_caught(
    region: str, birth: date, serial: int, pos: int, delta: int
) -> None:
    number = make_id_number(region, birth, serial)
    slipped = number[:pos] + str((int(number[pos]) + delta) % 10) + number[pos + 1 :]
    assert clean_id_number(slipped).value is None


@given(regions, births, serials, st.integers(0, 16))
def test_adjacent_swap_is_caught(region: str, birth: date, serial: int, pos: int) -> None:
    number = make_id_number(region, birth, serial)
    assume(number[pos] != number[pos + 1])
    swapped = number[:pos] + number[pos + 1] + number[pos] + number[pos + 2 :]
    assert clean_id_number(swapped).value is None
