"""公民身份号码 (GB 11643-1999) cleaning: full-width digits, spaces, a lower-case x, Excel's
text apostrophe and ".0" float tail; the 15-digit numbers issued before 1999 are upgraded to 18
digits (century 19 + GB 11643 check digit); then region, birth date and check digit are tested.
"""

from __future__ import annotations

import re
from datetime import date

from yitu.intake.clean.result import Cleaned, Issue
from yitu.intake.clean.text import blank, nfkc, squeeze
from yitu.people.idnumber import check_digit

FIELD = "id_number"
# GB/T 2260 province-level codes (first two digits); 83 = 港澳台居民居住证.
PROVINCES = frozenset(
    {
        *("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36"),
        *("37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62"),
        *("63", "64", "65", "71", "81", "82", "83"),
    }
)
EARLIEST = date(1900, 1, 1)
_SEPARATORS = re.compile(r"[-_.·/\\]")
_SHAPE18 = re.compile(r"\d{17}[\dX]")
# A passport number (1-3 letters and digits): foreign residents without a permanent residence
# card are registered by it (境外人员).
_PASSPORT = re.compile(r"[A-Z]{1,3}\d{5,10}")


def _issue(code: str, message: str) -> Issue:
    return Issue(FIELD, code, message)


def _birth(digits8: str) -> date | None:
    try:
        return date(int(digits8[:4]), int(digits8[4:6]), int(digits8[6:8]))
    except ValueError:
        return None


def normalise_id_text(raw: str) -> str:
    """Characters only: NFKC, no whitespace, upper case, no separators or Excel artefacts."""
    text = squeeze(nfkc(str(raw))).upper().lstrip("'")
    if text.endswith(".0") and text[:-2].isdigit():  # a number cell read as float
        text = text[:-2]
    return _SEPARATORS.sub("", text)


def upgrade15(number15: str) -> str:
    """A 15-digit number (region 6 + yymmdd + serial 3) as 18 digits, century 19."""
    first17 = number15[:6] + "19" + number15[6:15]
    return first17 + check_digit(first17)


def clean_id_number(raw: str | None, today: date | None = None) -> Cleaned[str]:
    """Canonical 18-character number (upper-case X) or None, with issues:
    ``id_missing``, ``id_format``, ``id_region``, ``id_birth_date``, ``id_checksum`` (value None)
    and, informational (value kept): ``id_upgraded`` (a 15-digit number was upgraded) and
    ``id_passport`` (a passport number: letters and digits, kept upper-case). A foreigner's
    permanent residence number (18 characters starting with 9) is validated like a citizen ID."""
    if blank(raw):
        return Cleaned(None, (_issue("id_missing", "ID number is missing"),))
    text = normalise_id_text(str(raw))
    issues: list[Issue] = []
    if _PASSPORT.fullmatch(text):
        return Cleaned(text, (_issue("id_passport", "a passport number, not a citizen ID"),))
    if len(text) == 15 and text.isdigit():
        text = upgrade15(text)
        issues.append(_issue("id_upgraded", "15-digit ID number upgraded to 18 digits"))
    if not _SHAPE18.fullmatch(text):
        digits = re.sub(r"[^\dX]", "", text)
        return Cleaned(
            None,
            (
                _issue(
                    "id_format",
                    f"ID number must be 18 characters (17 digits and a digit or X) or 15 "
                    f"digits; got {len(text)} characters",
                ),
            ),
            candidate=digits or None,
        )
    # 外国人永久居留身份证 (2023): 9 + province of issue (2) + nationality (3), same check digit.
    foreign = text[0] == "9" and text[1:3] in PROVINCES
    if not foreign and (text[:2] not in PROVINCES or text[2:6] == "0000"):
        issues.append(_issue("id_region", "ID number region code (digits 1-6) is not valid"))
    born = _birth(text[6:14])
    if born is None or not (EARLIEST <= born <= (today or date.today())):
        issues.append(_issue("id_birth_date", "ID number birth date (digits 7-14) is impossible"))
    if check_digit(text[:17]) != text[17]:
        issues.append(_issue("id_checksum", "ID number check digit (18th) is wrong"))
    if any(i.code != "id_upgraded" for i in issues):
        return Cleaned(None, tuple(issues), candidate=text)
    return Cleaned(text, tuple(issues))


def id_birth_sex(number: str) -> tuple[date, str]:
    """Birth date and sex ("M"/"F") of a canonical 18-character number as ``clean_id_number``
    returned it: already validated, so read without checking it again (the people registry's
    ``parse_id_number`` would compute the check digit a second time for each of a county's
    1.9 M imported rows; a test holds the two readings equal)."""
    born = _birth(number[6:14])
    if born is None:
        raise ValueError("not a cleaned ID number: digits 7-14 are no date")
    return born, "M" if int(number[16]) % 2 else "F"
