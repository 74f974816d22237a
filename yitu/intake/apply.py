"""Applying cleaned house, organisation and relation rows to the registry, inside the batch's
transaction (people are applied by the linkage run, ``linkage.py``, which sees all sources).

Each row's outcome: ``merged`` when it names a registry record that exists (a room of the
standard address registry, an organisation with the same credit code, a person–house relation
already recorded), ``accepted`` when it creates one, ``rejected`` when it cannot be applied."""

from __future__ import annotations

from datetime import date
from itertools import chain
from typing import Any

from sqlalchemy import Connection, String, and_, func, insert, select, type_coerce, update

from yitu.intake.bulk import bulk_insert, driver_rows, reserve_ids
from yitu.intake.models import Kind, Outcome, SourceRecord
from yitu.intake.rows import REJECT, RowIssue, RowResult
from yitu.people.models import Person
from yitu.registry.models import Building, House, Organisation, PersonHouse


def _chunks(values: list[Any], n: int = 500) -> list[list[Any]]:
    return [values[i : i + n] for i in range(0, len(values), n)]


def _reject(result: RowResult, field: str, code: str, message: str) -> None:
    result.record = None
    result.issues.append(RowIssue(REJECT, field, code, message))


class FileLookups:
    """The linked people, by ID number and by name key + birth date, read once per imported
    file instead of once per batch: a relations import links no people, so the people
    records' person ids are fixed while it runs."""

    def __init__(self) -> None:
        self._maps: tuple[dict[str, int], dict[str, int]] | None = None

    def _read(self, conn: Connection) -> tuple[dict[str, int], dict[str, int]]:
        if self._maps is None:
            self._maps = linked_people(conn)
        return self._maps

    def by_id_number(self, conn: Connection) -> dict[str, int]:
        return self._read(conn)[0]

    def by_name_birth(self, conn: Connection) -> dict[str, int]:
        return self._read(conn)[1]


def apply_batch(
    conn: Connection,
    kind: Kind,
    results: list[RowResult],
    source: str,
    today: date,
    lookups: FileLookups | None = None,
) -> None:
    """Set each kept record's outcome (and ids); turn unappliable rows into rejects."""
    kept = [r for r in results if r.record is not None]
    if not kept:
        return
    if kind == Kind.HOUSES:
        _houses(conn, kept)
    elif kind == Kind.ORGANISATIONS:
        _organisations(conn, kept)
    elif kind == Kind.RELATIONS:
        _relations(conn, kept, source, today, lookups or FileLookups())


def _houses(conn: Connection, kept: list[RowResult]) -> None:
    for r in kept:
        rec = r.record
        assert rec is not None
        use = rec.get("house_use")
        if use:
            conn.execute(update(House).where(House.id == rec["house_id"]).values(use=use))
        rec["outcome"] = Outcome.MERGED.value


def _organisations(conn: Connection, kept: list[RowResult]) -> None:
    codes = sorted({r.record["credit_code"] for r in kept if r.record})
    existing: dict[str, int] = {}
    for chunk in _chunks(codes):
        existing.update(
            conn.execute(
                select(Organisation.credit_code, Organisation.id).where(
                    Organisation.credit_code.in_(chunk)
                )
            ).all()
        )
    building_ids = sorted(
        {r.record["building_id"] for r in kept if r.record and r.record.get("building_id")}
    )
    buildings: dict[int, Any] = {}
    for chunk in _chunks(building_ids):
        for b in conn.execute(
            select(Building.id, Building.lon, Building.lat, Building.code, Building.node_id).where(
                Building.id.in_(chunk)
            )
        ):
            buildings[b.id] = b
    for r in kept:
        rec = r.record
        assert rec is not None
        org_id = existing.get(rec["credit_code"])
        if org_id is not None:
            rec.update(outcome=Outcome.MERGED.value, org_id=org_id)
            continue
        b = buildings.get(rec.get("building_id") or -1)
        if b is None:
            _reject(
                r,
                "address",
                "address_unmatched",
                "a new organisation needs an address matched to a building of the "
                "standard address registry",
            )
            continue
        org_id = conn.execute(
            insert(Organisation)
            .values(
                name=rec["org_name"],
                credit_code=rec["credit_code"],
                kind=rec["org_kind"],
                industry="",
                building_id=b.id,
                address_id=rec.get("address_id"),
                employees=0,
                lon=b.lon,
                lat=b.lat,
                code=b.code,
                node_id=b.node_id,
            )
            .returning(Organisation.id)
        ).scalar_one()
        existing[rec["credit_code"]] = org_id
        rec.update(outcome=Outcome.ACCEPTED.value, org_id=org_id, node_id=b.node_id)


def linked_people(conn: Connection) -> tuple[dict[str, int], dict[str, int]]:
    """Person id by ID number (registry people, then linked records) and by name key + ISO
    birth date (``name_birth_key``; keys two people share are left out: two people of the
    same name born the same day are not guessed between). Per batch, ``id_number`` and
    ``name_key`` have no index to look up by, so two scans of the people records serve a
    file, through the driver's cursor (a county's 1.1 M rows), the name key built by the
    database (grouping there instead was slower: SQLite sorts them)."""
    linked = and_(SourceRecord.kind == Kind.PEOPLE.value, SourceRecord.person_id.is_not(None))
    by_number: dict[str, int] = dict(
        chain.from_iterable(
            driver_rows(conn, select(Person.id_number, Person.id).where(Person.id_number != ""))
        )
    )
    by_number.update(
        chain.from_iterable(
            driver_rows(
                conn,
                select(SourceRecord.id_number, SourceRecord.person_id).where(
                    linked, SourceRecord.id_number != ""
                ),
            )
        )
    )
    # SQLite keeps a date as ISO text; PostgreSQL's text form depends on DateStyle: to_char.
    born = (
        func.to_char(SourceRecord.birth_date, "YYYY-MM-DD")
        if conn.dialect.name == "postgresql"
        else type_coerce(SourceRecord.birth_date, String)
    )
    by_name: dict[str, int] = {}
    ambiguous: set[str] = set()
    for key, pid in chain.from_iterable(
        driver_rows(
            conn,
            select(SourceRecord.name_key + "|" + born, SourceRecord.person_id).where(
                linked, SourceRecord.name_key != "", SourceRecord.birth_date.is_not(None)
            ),
        )
    ):
        if by_name.setdefault(key, pid) != pid:
            ambiguous.add(key)  # two people
    for key in ambiguous:
        del by_name[key]
    return by_number, by_name


def name_birth_key(name_key: str, birth: date) -> str:
    return f"{name_key}|{birth.isoformat()}"


def _relations(
    conn: Connection, kept: list[RowResult], source: str, today: date, lookups: FileLookups
) -> None:
    people = lookups.by_id_number(conn)
    needs_name = any(r.record and not r.record.get("id_number") for r in kept)
    by_name = lookups.by_name_birth(conn) if needs_name else {}
    house_ids = sorted({r.record["house_id"] for r in kept if r.record})
    houses: dict[int, tuple[int, str, int]] = {}  # id -> code, code3d, node (rows unpacked
    # as tuples: attribute access on 20 000 rows a batch was a visible share of the writes)
    for chunk in _chunks(house_ids):
        for hid, code, code3d, node in conn.execute(
            select(House.id, House.code, House.code3d, House.node_id).where(House.id.in_(chunk))
        ):
            houses[hid] = (code, code3d, node)
    # Each row's person first, so the open relations are read for this batch's people only
    # (reading them for every person of the file made each batch scan the county's relations).
    found: list[tuple[RowResult, int]] = []
    for r in kept:
        rec = r.record
        assert rec is not None
        if rec.get("id_number"):
            person_id = people.get(rec["id_number"])
        else:
            born = rec["birth_date"]
            person_id = by_name.get(name_birth_key(rec["name_key"], born)) if born else None
        if person_id is None:
            _reject(
                r,
                "id_number",
                "relation_person_unknown",
                "no person with this ID number: import the people sources first",
            )
            continue
        found.append((r, person_id))
    persons = sorted({person_id for _, person_id in found})
    current: dict[tuple[int, int, str], int] = {}
    for chunk in _chunks(persons):
        for ph_id, pid, hid, relation in conn.execute(
            select(
                PersonHouse.id, PersonHouse.person_id, PersonHouse.house_id, PersonHouse.relation
            ).where(PersonHouse.person_id.in_(chunk), PersonHouse.valid_to.is_(None))
        ):
            current[(pid, hid, relation)] = ph_id
    new_rows: list[dict[str, Any]] = []
    new_keys: list[tuple[int, int, str]] = []
    new_set: set[tuple[int, int, str]] = set()  # new_keys as a set: a list made this O(n²)
    waiting: list[tuple[RowResult, tuple[int, int, str]]] = []
    for r, person_id in found:
        rec = r.record
        assert rec is not None
        house_id = rec["house_id"]
        code, code3d, node = houses[house_id]
        key = (person_id, house_id, rec["relation"])
        rec.update(person_id=person_id, node_id=node)
        if key in current or key in new_set:
            rec["outcome"] = Outcome.MERGED.value
        else:
            rec["outcome"] = Outcome.ACCEPTED.value
            new_keys.append(key)
            new_set.add(key)
            new_rows.append(
                dict(
                    person_id=person_id,
                    house_id=house_id,
                    relation=rec["relation"],
                    valid_from=rec.get("observed_on") or today,
                    valid_to=None,
                    source=source[:40],
                    code=code,
                    code3d=code3d,
                    node_id=node,
                )
            )
        waiting.append((r, key))
    if new_rows:
        ids = reserve_ids(conn, PersonHouse.__table__, len(new_rows))
        for row, id_ in zip(new_rows, ids, strict=True):
            row["id"] = id_
        bulk_insert(conn, PersonHouse.__table__, new_rows)
        current.update(zip(new_keys, ids, strict=True))
    for r, key in waiting:
        assert r.record is not None
        r.record["target_id"] = current[key]
