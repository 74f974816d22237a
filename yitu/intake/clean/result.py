"""What every cleaning rule returns: the canonical value (or None) and the issues found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Issue:
    """One finding about one field. ``code`` is a stable machine key (``id_checksum``);
    ``message`` is English text for people and never contains the raw value (IDs and phones
    must not reach logs or reports unmasked)."""

    field: str
    code: str
    message: str


@dataclass(frozen=True)
class Cleaned(Generic[T]):
    """``value`` is the canonical form, or None when the input is unusable (missing or
    invalid). Informational issues (e.g. ``id_upgraded``) come with a value.

    ``candidate`` is the normalised form of an *invalid* input (digits of an ID with a wrong
    check digit, a phone with a digit too many): never a valid value, but useful to compare
    records fuzzily during linkage. None when ``value`` is set or nothing is left to compare.
    """

    value: T | None
    issues: tuple[Issue, ...] = ()
    candidate: T | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.issues)


# Issue codes that keep the value (informational). Every other code means value is None.
INFORMATIONAL = frozenset(
    {
        "id_upgraded",
        "id_passport",
        "phone_multiple",
        "phone_landline_default_area",
        "name_variant",
        "name_remark",
        "address_partial",
    }
)
