"""Text normalisation shared by the rules: NFKC (full-width → half-width, compatibility
ideographs → unified), whitespace of every kind, Chinese numerals in address positions."""

from __future__ import annotations

import re
import unicodedata

# \s covers U+3000 (ideographic space) and NBSP; zero-width characters are not whitespace.
_WS = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]+")
_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")}
_DIGITS.update({"〇": 0, "两": 2, "0": 0})


def nfkc(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw)


def blank(raw: str | None) -> bool:
    return raw is None or not _WS.sub("", str(raw))


def squeeze(text: str) -> str:
    """Remove all whitespace (inner too): IDs, phones, Chinese names and addresses."""
    return _WS.sub("", text)


def single_spaces(text: str) -> str:
    return _WS.sub(" ", text).strip()


def chinese_number(text: str) -> int | None:
    """三 → 3, 十二 → 12, 二十 → 20, 一百零五 → 105, 五〇二 → 502 (digit by digit when there
    is no 十/百). None if ``text`` is not a Chinese numeral."""
    if not text:
        return None
    if all(c in _DIGITS for c in text):
        return int("".join(str(_DIGITS[c]) for c in text))
    total, current = 0, 0
    for c in text:
        if c in _DIGITS:
            current = _DIGITS[c]
        elif c == "十":
            total += (current or 1) * 10
            current = 0
        elif c == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current
