"""Server-side masking (脱敏) by role × purpose, per services-domain.md §C5.

Tiers: L0 public/report, L1 list views, L2 detail view (need-to-know, logged), L3 full (break-glass
with a reason, logged). What leaves the server is already masked; the client never gets more than
its tier.
"""

from __future__ import annotations

import re
from datetime import date
from enum import IntEnum, StrEnum

from yitu.access.roles import Permission, Role, has_permission
from yitu.core.errors import ForbiddenError


class Tier(IntEnum):
    L0 = 0
    L1 = 1
    L2 = 2
    L3 = 3


class Purpose(StrEnum):
    REPORT = "report"  # statistics, big screen
    LIST = "list"  # list views
    DETAIL = "detail"  # one record, need-to-know
    BREAK_GLASS = "break_glass"  # full record, reason required


_PURPOSE_TIER = {
    Purpose.REPORT: (Tier.L0, Permission.PERSON_LIST),
    Purpose.LIST: (Tier.L1, Permission.PERSON_LIST),
    Purpose.DETAIL: (Tier.L2, Permission.PERSON_DETAIL),
    Purpose.BREAK_GLASS: (Tier.L3, Permission.PERSON_BREAK_GLASS),
}


def tier_for(role: Role | None, purpose: Purpose) -> Tier:
    """The tier a role gets for a purpose; refuses roles that may not read for that purpose."""
    tier, permission = _PURPOSE_TIER[purpose]
    if not has_permission(role, permission):
        raise ForbiddenError(
            f"role {role or 'none'} may not read personal data for purpose {purpose}"
        )
    return tier


def _stars(n: int) -> str:
    return "*" * max(n, 0)


def mask_name(name: str, tier: Tier) -> str:
    if tier >= Tier.L2 or not name:
        return name
    if tier == Tier.L0:
        return name[0] + "某"
    if len(name) <= 2:
        return name[0] + "*"
    return name[0] + _stars(len(name) - 2) + name[-1]


def mask_id_number(value: str, tier: Tier) -> str | None:
    """L1 first 3 + last 4, L2 first 6 + last 4: the birth date (digits 7–14) is always hidden."""
    if tier == Tier.L0 or not value:
        return None
    if tier == Tier.L3:
        return value
    front = 3 if tier == Tier.L1 else 6
    return value[:front] + _stars(len(value) - front - 4) + value[-4:]


def mask_phone(value: str, tier: Tier) -> str | None:
    if tier == Tier.L0 or not value:
        return None
    if tier == Tier.L3:
        return value
    if len(value) == 11:
        return value[:3] + "****" + value[-4:]
    # Landlines and others: first 4, last 2 (Hutool's fixed-phone rule).
    return value[:4] + _stars(len(value) - 6) + value[-2:]


_VILLAGE_END = re.compile(r"(村委会|居委会|社区|村)")
_BUILDING_END = re.compile(r"(\d+\s*(栋|幢|号楼|组)|小区)")
_ROOM = re.compile(r"(\d+\s*单元)?\s*\d+\s*(室|号房)?\s*$")


def mask_address(value: str, tier: Tier) -> str:
    """L0 to the village/community, L1 to the building or 组, L2 all but the room, L3 full."""
    if tier == Tier.L3 or not value:
        return value
    if tier == Tier.L2:
        room = _ROOM.search(value)
        if room and room.start() > 0 and _BUILDING_END.search(value[: room.start()]):
            return value[: room.start()] + "***"
        return value
    pattern = _VILLAGE_END if tier == Tier.L0 else _BUILDING_END
    matches = list(pattern.finditer(value))
    if tier == Tier.L1 and not matches:
        matches = list(_VILLAGE_END.finditer(value))
    if matches:
        end = matches[-1].end() if tier == Tier.L1 else matches[0].end()
        return value[:end] + ("***" if end < len(value) else "")
    keep = min(6, len(value) // 2)
    return value[:keep] + "***"


def age_on(birth_date: date, today: date) -> int:
    return (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )


def age_band(age: int) -> str:
    if age >= 80:
        return "80+"
    low = age // 10 * 10
    return f"{low}-{low + 9}"
