"""统一社会信用代码 (GB 32100-2015) cleaning on top of ``yitu.registry.codes``."""

from __future__ import annotations

import re

from yitu.intake.clean.result import Cleaned, Issue
from yitu.intake.clean.text import blank, nfkc, squeeze
from yitu.registry.codes import ALPHABET, credit_check_char

FIELD = "credit_code"
_SEPARATORS = re.compile(r"[-_./·]")


def _issue(code: str, message: str) -> Issue:
    return Issue(FIELD, code, message)


def clean_credit_code(raw: str | None) -> Cleaned[str]:
    """Canonical 18-character code (upper case) or None with ``credit_missing``,
    ``credit_format`` (length, alphabet, region digits) or ``credit_checksum``."""
    if blank(raw):
        return Cleaned(None, (_issue("credit_missing", "credit code is missing"),))
    text = _SEPARATORS.sub("", squeeze(nfkc(str(raw)))).upper()
    if len(text) != 18:
        return Cleaned(
            None,
            (_issue("credit_format", f"credit code must be 18 characters; got {len(text)}"),),
            candidate=text or None,
        )
    bad = [pos for pos, c in enumerate(text, start=1) if c not in ALPHABET]
    if bad:
        message = (
            f"credit code character {bad[0]} is outside the GB 32100 alphabet "
            "(0-9, A-Y without I, O, S, V, Z)"
        )
        return Cleaned(None, (_issue("credit_format", message),), candidate=text)
    if not text[2:8].isdigit():
        message = "credit code characters 3-8 (region code) must be digits"
        return Cleaned(None, (_issue("credit_format", message),), candidate=text)
    if credit_check_char(text[:17]) != text[17]:
        message = "credit code check character (18th) is wrong"
        return Cleaned(None, (_issue("credit_checksum", message),), candidate=text)
    return Cleaned(text)
