"""Phone numbers: mobiles to 11 digits ("13812345678"), landlines to "0710-1234567".

Accepted noise: full-width digits, spaces, dashes, dots, brackets around the area code, a
+86/0086/86 country prefix, an Excel ".0" tail. A 7- or 8-digit number without an area code is
a local landline: it gets 老河口/襄阳's 0710 (informational issue). Several numbers in one cell
("138…/139…") keep the first (informational issue).
"""

from __future__ import annotations

import re

from yitu.intake.clean.result import Cleaned, Issue
from yitu.intake.clean.text import blank, nfkc, squeeze

FIELD = "phone"
DEFAULT_AREA = "0710"  # 襄阳 (老河口 dials 0710)
_SPLIT = re.compile(r"[/,;，；、]|或")
_NOISE = re.compile(r"[-()（）.·\s]")
_MOBILE = re.compile(r"1[3-9]\d{9}")
# Area codes: 010 and 02x have three digits; every other one four (0xxx).
_LANDLINE = re.compile(r"(0(?:10|2\d|[3-9]\d{2}))([2-9]\d{6,7})")
_LOCAL = re.compile(r"[2-9]\d{6,7}")


def _issue(code: str, message: str) -> Issue:
    return Issue(FIELD, code, message)


def _one(text: str) -> tuple[str | None, str]:
    """(canonical or None, digits) for a single number."""
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]  # a number cell read as float: "13812345678.0"
    digits = _NOISE.sub("", text)
    if digits.startswith("+"):
        digits = digits[1:]
    for prefix in ("0086", "86"):
        rest = digits[len(prefix) :]
        if not digits.startswith(prefix):
            continue
        if _MOBILE.fullmatch(rest):
            digits = rest
            break
        if _LANDLINE.fullmatch("0" + rest):
            digits = "0" + rest
            break
    if _MOBILE.fullmatch(digits):
        return digits, digits
    m = _LANDLINE.fullmatch(digits)
    if m:
        return f"{m.group(1)}-{m.group(2)}", digits
    return None, digits


def clean_phone(raw: str | None) -> Cleaned[str]:
    """Canonical mobile or landline, or None with ``phone_missing`` / ``phone_format``."""
    if raw is not None and raw.isascii() and _MOBILE.fullmatch(raw):
        return Cleaned(raw)  # already canonical (most cells): skip NFKC, splitting, prefixes
    if blank(raw):
        return Cleaned(None, (_issue("phone_missing", "phone is missing"),))
    text = nfkc(str(raw)).strip()
    issues: list[Issue] = []
    parts = [p for p in (squeeze(x) for x in _SPLIT.split(text)) if p]
    if len(parts) > 1:
        message = f"{len(parts)} numbers in one field; kept the first"
        issues.append(_issue("phone_multiple", message))
    first = parts[0] if parts else squeeze(text)
    value, digits = _one(first)
    if value is None and _LOCAL.fullmatch(digits):
        value = f"{DEFAULT_AREA}-{digits}"
        message = f"landline without area code: {DEFAULT_AREA} assumed"
        issues.append(_issue("phone_landline_default_area", message))
    if value is None:
        kind = {"1": "mobile", "0": "landline"}.get(digits[:1], "phone")
        issues.append(
            _issue(
                "phone_format",
                f"{kind} number has {len(digits)} characters; a mobile has 11 digits (1[3-9]…), "
                "a landline an area code and 7-8 digits",
            )
        )
        return Cleaned(None, tuple(issues), candidate=digits if digits.isdigit() else None)
    return Cleaned(value, tuple(issues))
