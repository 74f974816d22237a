"""统一社会信用代码 (GB 32100-2015): validation and construction.

Layout of the 18 characters: 登记管理部门代码 (1) + 机构类别代码 (1) + 登记管理机关行政区划码 (6)
+ 主体标识码 (组织机构代码, 9) + 校验码 (1). The alphabet is the 31 characters 0-9 and A-Y
without I, O, S, V, Z (they read like 1, 0, 5, U, 2). The check character is
``31 - (Σ value(cᵢ)·wᵢ mod 31)``, where 31 maps to 0.

A credit code identifies an organisation, not a person, but errors follow the ID-number style and
never echo the input: messages name what is wrong and where.
"""

from __future__ import annotations

from yitu.core.errors import InvalidInputError

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_check_char(first17: str) -> str:
    """The 18th (check) character for the first 17 characters (upper case, in the alphabet)."""
    if len(first17) != 17:
        raise InvalidInputError("credit code body must be 17 characters")
    total = 0
    for pos, (char, weight) in enumerate(zip(first17, _WEIGHTS, strict=True), start=1):
        value = _VALUE.get(char)
        if value is None:
            raise InvalidInputError(
                f"credit_code character {pos} is outside the GB 32100 alphabet"
            )
        total += value * weight
    return ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(code: str) -> str:
    """Return the normalised (stripped, upper-case) code or raise ``InvalidInputError``."""
    if not isinstance(code, str):
        raise InvalidInputError("credit_code must be a string")
    value = code.strip().upper()
    if len(value) != 18:
        raise InvalidInputError("credit_code must be 18 characters")
    for pos, char in enumerate(value, start=1):
        if char not in _VALUE:
            raise InvalidInputError(
                f"credit_code character {pos} is outside the GB 32100 alphabet "
                "(0-9, A-Y without I, O, S, V, Z)"
            )
    if not value[2:8].isdigit():
        raise InvalidInputError("credit_code characters 3-8 (region code) must be digits")
    if credit_check_char(value[:17]) != value[17]:
        raise InvalidInputError("credit_code check character is wrong")
    return value


def is_valid_credit_code(code: str) -> bool:
    try:
        validate_credit_code(code)
    except InvalidInputError:
        return False
    return True


def make_credit_code(region: str, serial: int, authority: str = "9", category: str = "1") -> str:
    """A valid code for demo data and tests: authority (9 = 工商, default) + category
    (1 = 企业) + 6-digit region + a 9-character body derived from ``serial`` + check."""
    digits = []
    n = serial
    for _ in range(8):
        digits.append(ALPHABET[n % 31])
        n //= 31
    body8 = "".join(reversed(digits))
    # The 9th body character stands in for the GB 11714 check; any alphabet character is legal
    # for the GB 32100 check, which is what this module validates.
    body = body8 + ALPHABET[serial % 10]
    first17 = f"{authority}{category}{region[:6]}{body}"
    return first17 + credit_check_char(first17)
