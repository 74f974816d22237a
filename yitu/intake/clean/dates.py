"""Dates as departments write them: 1985-03-02, 1985/3/2, 1985.3.2, 19850302, 1985年3月2日,
an ISO timestamp, or an Excel serial day number (a date cell read as a number)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from yitu.intake.clean.result import Cleaned, Issue
from yitu.intake.clean.text import blank, nfkc, squeeze

_YMD = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[T ]?\d{1,2}:\d{2}(?::\d{2})?.*)?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_EXCEL_EPOCH = date(1899, 12, 30)


def clean_date(
    raw: str | None,
    field: str = "date",
    earliest: date = date(1900, 1, 1),
    latest: date | None = None,
) -> Cleaned[date]:
    """The date or None with ``<field>_missing`` / ``<field>_format`` (unreadable or outside
    ``earliest``..``latest``, default today)."""
    if blank(raw):
        return Cleaned(None, (Issue(field, f"{field}_missing", f"{field} is missing"),))
    text = squeeze(nfkc(str(raw)))
    value: date | None = None
    m = _YMD.fullmatch(text) or _COMPACT.fullmatch(text)
    try:
        if m:
            value = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        elif re.fullmatch(r"\d{5}(?:\.0+)?", text):
            value = _EXCEL_EPOCH + timedelta(days=int(float(text)))
    except ValueError:
        value = None
    if value is None or not (earliest <= value <= (latest or date.today())):
        message = f"{field} is not a possible date (expected e.g. 1985-03-02 or 1985年3月2日)"
        return Cleaned(None, (Issue(field, f"{field}_format", message),))
    return Cleaned(value)
