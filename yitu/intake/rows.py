"""One input row → one cleaned record (or a reject), per kind.

The field rules are ``yitu.intake.clean``'s; this module decides what a row needs to be kept:

* people: a valid name. An invalid ID or phone is a *warning*: the record is kept for linkage,
  its digits compared fuzzily. A row without a birth date (no valid ID number, no plausible
  date in its digits, no birth-date column) is kept too, but only a confident link to an
  identified person keeps it (``linkage.py``); otherwise the linkage rejects it.
* houses: an address matched to a room (房屋) of the standard address registry.
* organisations: a valid 统一社会信用代码 and a name; new ones also need a matched address
  (an organisation is placed on the map by its building).
* relations: an address matched to a room and a known relation type; the person is resolved
  after cleaning (``apply.py``), by ID number.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from yitu.access.masking import Tier, mask_id_number, mask_name, mask_phone
from yitu.intake.clean import (
    AddressMatch,
    AddressMatcher,
    AddressParts,
    Cleaned,
    clean_credit_code,
    clean_id_number,
    clean_name,
    clean_phone,
    name_key,
    parse_address,
)
from yitu.intake.clean.dates import clean_date
from yitu.intake.clean.idnumber import id_birth_sex
from yitu.intake.mapping import Mapping
from yitu.intake.models import Kind, row_key

REJECT, WARNING = "reject", "warning"
MASKED_FIELDS = {"id_number": mask_id_number, "phone": mask_phone, "name": mask_name}


@dataclass
class RowIssue:
    severity: str
    field: str
    code: str
    message: str
    masked_value: str = ""


@dataclass
class RowResult:
    row_number: int
    row_hash: str
    record: dict[str, Any] | None  # column values of intake_records (None: rejected)
    issues: list[RowIssue] = field(default_factory=list)
    town: str = ""

    @property
    def rejected(self) -> bool:
        return self.record is None


def _masked(field_name: str, raw: str) -> str:
    """What the reject file may show of a value: IDs and phones masked as list views mask them
    (L1), other fields as given, cut to 80 characters."""
    masker = MASKED_FIELDS.get(field_name)
    if masker is not None:
        return masker(raw.strip(), Tier.L1) or ""
    return raw.strip()[:80]


def _digits_birth(candidate: str | None, today: date) -> date | None:
    """Birth date in the digits of an invalid 18-character ID (wrong check digit or region):
    usable for blocking when it is a plausible date."""
    if not candidate or len(candidate) != 18 or not candidate[6:14].isdigit():
        return None
    return clean_date(candidate[6:14], "birth_date", latest=today).value


Place = tuple[AddressMatch | None, str]  # an address's match (or None) and its town name


@dataclass
class CleanMemo:
    """The costly pure rules' results by input text — address parse + match (with its town)
    and name + pinyin key — shared by every file of a run: the same address recurs for every
    member of a household and in every source, the same name in every source. Cleaning
    workers send back what they computed (``take_new``) and the importer ``merge``s it, so the
    next file's workers start with it. Valid for one database (one address registry)."""

    addresses: dict[str, Place] = field(default_factory=dict)
    names: dict[str, tuple[Cleaned[str], str]] = field(default_factory=dict)
    # The match by parsed parts: a county's 1.95 M address cells are 1.0 M distinct texts but
    # only 318 000 distinct parts (prefixes, spacing, 栋/幢/号楼 and numerals spelled apart).
    places: dict[AddressParts, Place] = field(default_factory=dict)
    limit: int = 3_000_000  # entries per dict (~1 KB each at most): memory stays bounded

    def merge(self, new: MemoEntries) -> None:
        memos: tuple[dict[Any, Any], ...] = (self.addresses, self.names, self.places)
        for memo, entries in zip(memos, new, strict=True):
            for key, value in entries:
                if len(memo) < self.limit:
                    memo.setdefault(key, value)


MemoEntries = tuple[
    list[tuple[str, Place]],
    list[tuple[str, tuple[Cleaned[str], str]]],
    list[tuple[AddressParts, Place]],
]


class RowCleaner:
    """Cleans rows of one file. Address parsing and matching and names are memoised by text
    (``CleanMemo``, shared by the files of a run when the caller passes one)."""

    def __init__(
        self,
        mapping: Mapping,
        header: list[str],
        source: str,
        matcher: AddressMatcher | None,
        today: date,
        towns: dict[int, str] | None = None,
        memo: CleanMemo | None = None,
    ) -> None:
        self.mapping = mapping
        self.kind = mapping.kind
        self.source = source
        self.index = mapping.indexes(header)
        self.matcher = matcher
        self.today = today
        self.towns = towns or {}  # node id -> town name (for the report)
        self.memo = memo if memo is not None else CleanMemo()
        self._new: MemoEntries = ([], [], [])  # computed here since the last take_new()
        self.address_s = 0.0  # wall time spent parsing and matching distinct address texts
        self.values = {
            name: mapping.value_map(name)
            for name in ("relation", "house_use", "gender", "registration_type", "org_kind")
        }

    # -- helpers -------------------------------------------------------------------------
    def _get(self, row: list[str], name: str) -> str:
        i = self.index.get(name)
        return row[i] if i is not None and i < len(row) else ""

    def row_hash(self, row: list[str]) -> str:
        values = [self._get(row, f).strip() for f in sorted(self.index)]
        payload = "\x1f".join([self.source, self.kind.value, *values])
        return hashlib.sha256(payload.encode()).hexdigest()

    def take_new(self) -> MemoEntries:
        """The memo entries computed since the last call (a worker's share for the parent)."""
        new, self._new = self._new, ([], [], [])
        return new

    def address(self, raw: str) -> Place:
        """(match or None, town name) for an address text."""
        hit = self.memo.addresses.get(raw)
        if hit is None:
            t = time.perf_counter()
            parsed = parse_address(raw)
            parts = parsed.value if isinstance(parsed, Cleaned) else parsed
            hit = self.memo.places.get(parts) if parts is not None else None
            if hit is None:
                hit = self._place_of(parts)
                if parts is not None and len(self.memo.places) < self.memo.limit:
                    self.memo.places[parts] = hit
                    self._new[2].append((parts, hit))
            if len(self.memo.addresses) < self.memo.limit:
                self.memo.addresses[raw] = hit
                self._new[0].append((raw, hit))
            self.address_s += time.perf_counter() - t
        return hit

    def _place_of(self, parts: AddressParts | None) -> Place:
        match = (
            self.matcher.match(parts) if self.matcher is not None and parts is not None else None
        )
        town = ""
        if match is not None:
            town = self.towns.get(match.node_id, "")
        if not town:
            town = str(getattr(parts, "town", "") or "")
        return (match, town)

    def _name(self, raw: str) -> tuple[Cleaned[str], str]:
        hit = self.memo.names.get(raw)
        if hit is None:
            cleaned = clean_name(raw)
            hit = (cleaned, name_key(cleaned.value) if cleaned.value else "")
            if len(self.memo.names) < self.memo.limit:
                self.memo.names[raw] = hit
                self._new[1].append((raw, hit))
        return hit

    def _code(self, name: str, raw: str) -> str | None:
        text = raw.strip()
        if not text:
            return None
        mapped = self.values[name].get(text)
        if mapped is None and text in self.values[name].values():
            mapped = text
        return mapped

    # -- rows ----------------------------------------------------------------------------
    def clean(self, row_number: int, row: list[str]) -> RowResult:
        result = RowResult(row_number, self.row_hash(row), None)
        record: dict[str, Any] = {
            "row_number": row_number,
            "row_hash": result.row_hash,
            "row_key": row_key(result.row_hash),
        }
        observed = self._get(row, "observed_on")
        record["observed_on"] = (
            clean_date(observed, "observed_on", latest=self.today).value
            if observed.strip()
            else None
        )
        ok = {
            Kind.PEOPLE: self._person,
            Kind.HOUSES: self._house,
            Kind.ORGANISATIONS: self._org,
            Kind.RELATIONS: self._relation,
        }[self.kind](row, record, result)
        if ok:
            result.record = record
        return result

    def _issue(self, result: RowResult, cleaned: Cleaned[Any], raw: str, severity: str) -> None:
        for issue in cleaned.issues:
            result.issues.append(
                RowIssue(
                    severity if not cleaned.ok else WARNING,
                    issue.field,
                    issue.code,
                    issue.message,
                    _masked(issue.field, raw),
                )
            )

    def _reject(
        self, result: RowResult, field_name: str, code: str, message: str, raw: str = ""
    ) -> bool:
        result.issues.append(RowIssue(REJECT, field_name, code, message, _masked(field_name, raw)))
        return False

    def _place(self, row: list[str], record: dict[str, Any], result: RowResult) -> bool:
        raw = self._get(row, "address")
        record["address"] = " ".join(raw.split())[:200]
        if not raw.strip():
            return False
        match, town = self.address(raw)
        result.town = town
        if match is None:
            return False
        record.update(
            address_id=match.address_id,
            house_id=match.house_id,
            building_id=match.building_id,
            node_id=match.node_id,
        )
        return True

    def _identity(
        self, row: list[str], record: dict[str, Any], result: RowResult, severity: str
    ) -> bool:
        """Name, ID number, birth date and gender into ``record``; False if unusable."""
        raw_name = self._get(row, "name")
        # A relation names its person by ID number; its name column is not cleaned (pinyin
        # keys are the most expensive rule, and relations are half of a county's rows).
        if "name" in self.index and self.kind == Kind.PEOPLE:
            name, key = self._name(raw_name)
            self._issue(result, name, raw_name, REJECT if severity == REJECT else WARNING)
            if not name.ok:
                return False
            record.update(name=name.value, name_key=key)
        raw_id = self._get(row, "id_number")
        birth: date | None = None
        gender = ""
        if "id_number" in self.index:
            idn = clean_id_number(raw_id, self.today)
            self._issue(result, idn, raw_id, WARNING)
            if idn.value:
                record["id_number"] = idn.value
                if len(idn.value) == 18:  # else a passport number (境外人员)
                    birth, gender = id_birth_sex(idn.value)
            else:
                record["id_digits"] = (idn.candidate or "")[:24]
                birth = _digits_birth(idn.candidate, self.today)
        raw_birth = self._get(row, "birth_date")
        if birth is None and raw_birth.strip():
            born = clean_date(raw_birth, "birth_date", latest=self.today)
            self._issue(result, born, raw_birth, WARNING)
            birth = born.value
        if not gender:
            gender = self._code("gender", self._get(row, "gender")) or ""
        record.update(birth_date=birth, gender=gender)
        return True

    def _person(self, row: list[str], record: dict[str, Any], result: RowResult) -> bool:
        if not self._identity(row, record, result, REJECT):
            return False
        if record["birth_date"] is None:
            # Kept for the linkage, which merges it into a person on a confident match (name,
            # phone, room) or rejects it then: such a row cannot found a person on its own.
            result.issues.append(
                RowIssue(
                    WARNING,
                    "id_number",
                    "no_birth_date",
                    "neither a valid ID number nor a birth date: kept for linkage only",
                )
            )
        raw_phone = self._get(row, "phone")
        if "phone" in self.index:
            phone = clean_phone(raw_phone)
            self._issue(result, phone, raw_phone, WARNING)
            record["phone"] = phone.value or ""
        placed = "address" in self.index and self._place(row, record, result)
        if "address" in self.index and not placed and record.get("address"):
            result.issues.append(
                RowIssue(
                    WARNING,
                    "address",
                    "address_unmatched",
                    "address not found in the standard address registry",
                    "",
                )
            )
        for name in ("registration_type",):
            code = self._code(name, self._get(row, name))
            if code:
                record["relation"] = code  # people rows keep the registration type here
        return True

    def _house(self, row: list[str], record: dict[str, Any], result: RowResult) -> bool:
        if not self._place(row, record, result) or record.get("house_id") is None:
            return self._reject(
                result,
                "address",
                "address_unmatched",
                "address not matched to a room of the standard address registry",
                self._get(row, "address"),
            )
        raw_use = self._get(row, "house_use")
        if raw_use.strip():
            use = self._code("house_use", raw_use)
            if use is None:
                return self._reject(
                    result,
                    "house_use",
                    "house_use_unknown",
                    "house use must be 自住, 出租 or 闲置",
                    raw_use,
                )
            record["house_use"] = use
        return True

    def _org(self, row: list[str], record: dict[str, Any], result: RowResult) -> bool:
        raw_code = self._get(row, "credit_code")
        code = clean_credit_code(raw_code)
        self._issue(result, code, raw_code, REJECT)
        if not code.ok:
            return False
        name = " ".join(self._get(row, "org_name").split())
        if not name:
            return self._reject(
                result, "org_name", "org_name_missing", "organisation name is missing"
            )
        record.update(credit_code=code.value, org_name=name[:100])
        kind = self._code("org_kind", self._get(row, "org_kind"))
        record["org_kind"] = kind or "other"
        if "address" in self.index:
            self._place(row, record, result)
        return True

    def _relation(self, row: list[str], record: dict[str, Any], result: RowResult) -> bool:
        raw_rel = self._get(row, "relation")
        relation = self._code("relation", raw_rel)
        if relation is None:
            return self._reject(
                result,
                "relation",
                "relation_unknown",
                "relation must be one of 户主, 家庭成员, 租住, 寄住, 房主, 户籍",
                raw_rel,
            )
        record["relation"] = relation
        self._identity(row, record, result, WARNING)
        if not record.get("id_number") and "name" in self.index:
            # An ID number with a slip: the person may still be found by name key + the birth
            # date in its digits (``apply.py``), if exactly one linked person has both.
            name, key = self._name(self._get(row, "name"))
            if name.ok:
                record.update(name=name.value, name_key=key)
        if not record.get("id_number") and not (record.get("name_key") and record["birth_date"]):
            return self._reject(
                result,
                "id_number",
                "relation_person_unknown",
                "a relation needs the person's valid ID number (or a name and the birth date "
                "in its digits)",
                self._get(row, "id_number"),
            )
        raw_from = self._get(row, "valid_from")
        valid_from = (
            clean_date(raw_from, "valid_from", latest=self.today).value
            if raw_from.strip()
            else None
        )
        record["observed_on"] = valid_from or record["observed_on"]
        if not self._place(row, record, result) or record.get("house_id") is None:
            return self._reject(
                result,
                "address",
                "address_unmatched",
                "address not matched to a room of the standard address registry",
                self._get(row, "address"),
            )
        return True
