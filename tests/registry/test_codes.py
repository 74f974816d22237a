"""统一社会信用代码 (GB 32100) validation."""

from __future__ import annotations

import pytest

from yitu.core.errors import InvalidInputError
from yitu.registry.codes import (
    ALPHABET,
    credit_check_char,
    is_valid_credit_code,
    make_credit_code,
    validate_credit_code,
)

# The worked example commonly printed with the standard.
KNOWN_VALID = ["91350100M000100Y43"]


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_known_codes_validate(code: str) -> None:
    assert validate_credit_code(code) == code
    assert credit_check_char(code[:17]) == code[17]


def test_lower_case_and_spaces_normalise() -> None:
    assert validate_credit_code(" 91350100m000100y43 ") == "91350100M000100Y43"


def test_alphabet_excludes_confusable_letters() -> None:
    assert len(ALPHABET) == 31
    assert not set("IOSVZ") & set(ALPHABET)


def test_check_31_maps_to_zero() -> None:
    # Find a body whose weighted sum is a multiple of 31: its check must be "0", not index 31.
    for serial in range(10_000):
        first17 = make_credit_code("420682", serial)[:17]
        if credit_check_char(first17) == "0":
            assert validate_credit_code(first17 + "0")
            return
    raise AssertionError("no body with check 0 in 10 000 serials")


def test_every_single_character_change_is_caught() -> None:
    code = KNOWN_VALID[0]
    for pos in range(18):
        for char in ALPHABET:
            if char == code[pos]:
                continue
            changed = code[:pos] + char + code[pos + 1 :]
            if 2 <= pos < 8 and not char.isdigit():
                continue  # caught by the region rule instead; covered below
            assert not is_valid_credit_code(changed), (pos, char)


def test_made_codes_are_valid_and_distinct() -> None:
    codes = {make_credit_code("420682", s) for s in range(2000)}
    assert len(codes) == 2000
    assert all(is_valid_credit_code(c) for c in codes)


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("9135010", "18 characters"),
        ("91350100M000100Y431", "18 characters"),
        ("91350100M00O100Y43", "character 12"),
        ("91350100I000100Y43", "character 9"),
        ("91A50100M000100Y43", "region code"),
        ("91350100M000100Y44", "check character"),
    ],
)
def test_errors_name_the_problem_not_the_value(code: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        validate_credit_code(code)
    assert fragment in info.value.detail
    assert code.strip().upper()[:8] not in info.value.detail


def test_non_string_rejected() -> None:
    with pytest.raises(InvalidInputError):
        validate_credit_code(12345)  # type: ignore[arg-type]
