"""Server-side masking (脱敏) by role × purpose, per services-domain.md §C5.

Tiers: L0 public/report, L1 list views, L2 detail view (need-to-know, logged), L3 full (break-glass
with a reason, logged). What leaves the server is already masked; the client never gets more than
its tier.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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


# Each rule is written once per tier as a plain function of the value, so a list masks each row
# with straight calls (``maskers``) instead of re-dispatching on the tier for every field; the
# ``mask_*`` functions below look the same functions up.


def _keep(value: str) -> str:
    return value


def _removed(_value: str) -> None:
    return None


def _name_l0(name: str) -> str:
    return name[0] + "某" if name else name


def _name_l1(name: str) -> str:
    if not name:
        return name
    if len(name) <= 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def _id_number_l1(value: str) -> str | None:
    """First 3 + last 4: the birth date (digits 7–14) is hidden."""
    return value[:3] + _stars(len(value) - 7) + value[-4:] if value else None


def _id_number_l2(value: str) -> str | None:
    """First 6 + last 4: the birth date (digits 7–14) is hidden."""
    return value[:6] + _stars(len(value) - 10) + value[-4:] if value else None


def _id_number_l3(value: str) -> str | None:
    return value or None


def _phone_masked(value: str) -> str | None:
    if not value:
        return None
    if len(value) == 11:
        return value[:3] + "****" + value[-4:]
    # Landlines and others: first 4, last 2 (Hutool's fixed-phone rule).
    return value[:4] + _stars(len(value) - 6) + value[-2:]


def _phone_l3(value: str) -> str | None:
    return value or None


_VILLAGE = r"(?:村委会|居委会|社区|村)"
_BUILDING = r"(?:\d+\s*(?:栋|幢|号楼|组)|小区)"
_FIRST_VILLAGE = re.compile(_VILLAGE)
# Greedy ``.*`` backtracks from the end: the match ends where the *last* occurrence ends.
_LAST_VILLAGE = re.compile(rf".*{_VILLAGE}", re.DOTALL)
_LAST_BUILDING = re.compile(rf".*{_BUILDING}", re.DOTALL)
_BUILDING_END = re.compile(_BUILDING)
_ROOM = re.compile(r"(\d+\s*单元)?\s*\d+\s*(室|号房)?\s*$")


def _cut(value: str, end: int) -> str:
    return value[:end] + ("***" if end < len(value) else "")


def _address_fallback(value: str) -> str:
    return value[: min(6, len(value) // 2)] + "***"


def _address_l0(value: str) -> str:
    """To the village/community (the first one named)."""
    if not value:
        return value
    m = _FIRST_VILLAGE.search(value)
    return _cut(value, m.end()) if m else _address_fallback(value)


def _address_l1(value: str) -> str:
    """To the building or 组 (the last one named), else to the village/community."""
    if not value:
        return value
    m = _LAST_BUILDING.match(value) or _LAST_VILLAGE.match(value)
    return _cut(value, m.end()) if m else _address_fallback(value)


def _address_l2(value: str) -> str:
    """All but the room (only when a building precedes it)."""
    room = _ROOM.search(value) if value else None
    if room and room.start() > 0 and _BUILDING_END.search(value[: room.start()]):
        return value[: room.start()] + "***"
    return value


_NAME = {Tier.L0: _name_l0, Tier.L1: _name_l1, Tier.L2: _keep, Tier.L3: _keep}
_ID_NUMBER = {
    Tier.L0: _removed,
    Tier.L1: _id_number_l1,
    Tier.L2: _id_number_l2,
    Tier.L3: _id_number_l3,
}
_PHONE = {Tier.L0: _removed, Tier.L1: _phone_masked, Tier.L2: _phone_masked, Tier.L3: _phone_l3}
_ADDRESS = {Tier.L0: _address_l0, Tier.L1: _address_l1, Tier.L2: _address_l2, Tier.L3: _keep}


def maskers(
    tier: Tier,
) -> tuple[
    Callable[[str], str],
    Callable[[str], str | None],
    Callable[[str], str | None],
    Callable[[str], str],
]:
    """The (name, ID number, phone, address) masking functions of one tier."""
    return _NAME[tier], _ID_NUMBER[tier], _PHONE[tier], _ADDRESS[tier]


def mask_name(name: str, tier: Tier) -> str:
    return _NAME[tier](name)


def mask_id_number(value: str, tier: Tier) -> str | None:
    """L1 first 3 + last 4, L2 first 6 + last 4: the birth date (digits 7–14) is always hidden."""
    return _ID_NUMBER[tier](value)


def mask_phone(value: str, tier: Tier) -> str | None:
    return _PHONE[tier](value)


def mask_address(value: str, tier: Tier) -> str:
    """L0 to the village/community, L1 to the building or 组, L2 all but the room, L3 full."""
    return _ADDRESS[tier](value)


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
