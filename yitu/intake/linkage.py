"""Entity resolution of people records across sources (splink, Fellegi–Sunter on DuckDB).

Every run links **all** people records (earlier imports too), so a new source can match any
record seen before; it then decides only the ``pending`` ones:

1. splink scores candidate pairs from three blocking rules — the same ID number (valid, or
   the digits of an invalid one), the same name pinyin key and birth date, the same phone —
   with comparisons on ID digits (exact / 1 / 2 edits), name (exact / same pinyin key, which
   catches homophones and variant characters / close key), birth date (exact / 1 edit), phone
   (exact / 1 edit) and place (same room / same building). u-probabilities come from random
   sampling, m-probabilities from EM on two blocking rules, λ from the ID-number rule.
2. Pairs at or above ``merge_probability`` touching a pending record are joined (union–find,
   minus pairs a reviewer rejected); a component with no person yet becomes one person (its
   first record ``accepted``, the rest ``merged``), one holding a person adds its pending
   records to it (``merged``). Two existing people are never joined silently: the pair goes to
   the review queue, as do pairs between ``review_probability`` and ``merge_probability``.
3. Each touched person's fields are chosen from all its records — most frequent valid ID
   number, the name most often written, birth date and gender from that ID (else the most
   frequent birth date), the phone and address of the most recent record — and the record each
   value came from is kept in ``intake_person_sources`` (field-level provenance).

The whole decision step is one transaction: killed half-way, the records stay pending and the
next run links them again.
"""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, bindparam, insert, select, update

from yitu.core.db import Database
from yitu.intake.models import (
    Kind,
    Outcome,
    PersonSource,
    ReviewItem,
    ReviewStatus,
    SourceRecord,
)
from yitu.people.models import Person
from yitu.registry.models import Address

logging.getLogger("splink").setLevel(logging.ERROR)

Step = Callable[[str], None]


@dataclass(frozen=True)
class LinkSettings:
    merge_probability: float = 0.99
    review_probability: float = 0.80
    u_sample_pairs: float = 2e6
    seed: int = 1


@dataclass
class LinkResult:
    records: int = 0
    pending: int = 0
    pairs: int = 0
    accepted: int = 0
    merged: int = 0
    people_created: int = 0
    people_updated: int = 0
    review_items: int = 0
    timings: dict[str, float] = field(default_factory=dict)


COLUMNS = (
    SourceRecord.id,
    SourceRecord.source,
    SourceRecord.name,
    SourceRecord.name_key,
    SourceRecord.id_number,
    SourceRecord.id_digits,
    SourceRecord.phone,
    SourceRecord.birth_date,
    SourceRecord.gender,
    SourceRecord.address,
    SourceRecord.address_id,
    SourceRecord.house_id,
    SourceRecord.building_id,
    SourceRecord.node_id,
    SourceRecord.observed_on,
    SourceRecord.relation,
    SourceRecord.person_id,
    SourceRecord.outcome,
)


def _load(conn: Connection) -> pd.DataFrame:
    rows = conn.execute(
        select(*COLUMNS).where(SourceRecord.kind == Kind.PEOPLE.value).order_by(SourceRecord.id)
    ).all()
    return pd.DataFrame(rows, columns=[c.key for c in COLUMNS])


def _splink_frame(df: pd.DataFrame) -> pd.DataFrame:
    def none_if_empty(s: pd.Series) -> pd.Series:
        return s.where(s.astype(str) != "", None)

    id_any = df["id_number"].where(df["id_number"] != "", df["id_digits"])
    return pd.DataFrame(
        {
            "unique_id": df["id"].astype("int64"),
            "name": none_if_empty(df["name"]),
            "name_key": none_if_empty(df["name_key"]),
            "id_any": none_if_empty(id_any),
            "birth": df["birth_date"].map(lambda d: d.strftime("%Y%m%d") if d else None),
            "phone": none_if_empty(df["phone"]),
            "house_id": df["house_id"].map(lambda v: None if pd.isna(v) else str(int(v))),
            "building_id": df["building_id"].map(lambda v: None if pd.isna(v) else str(int(v))),
        }
    )


def score_pairs(frame: pd.DataFrame, settings: LinkSettings) -> pd.DataFrame:
    """Candidate pairs with ``match_probability`` ≥ the review threshold (splink)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    def levels(col: str, edits: tuple[int, ...]) -> list[Any]:
        return [
            cll.NullLevel(col),
            cll.ExactMatchLevel(col),
            *(cll.LevenshteinLevel(col, e) for e in edits),
            cll.ElseLevel(),
        ]

    comparisons = [
        cl.CustomComparison(
            output_column_name="id_any", comparison_levels=levels("id_any", (1, 2))
        ),
        cl.CustomComparison(
            output_column_name="name",
            comparison_levels=[
                cll.NullLevel("name"),
                cll.ExactMatchLevel("name"),
                cll.ExactMatchLevel("name_key"),
                cll.JaroWinklerLevel("name_key", 0.9),
                cll.ElseLevel(),
            ],
        ),
        cl.CustomComparison(output_column_name="birth", comparison_levels=levels("birth", (1,))),
        cl.CustomComparison(output_column_name="phone", comparison_levels=levels("phone", (1,))),
        cl.CustomComparison(
            output_column_name="place",
            comparison_levels=[
                cll.NullLevel("building_id"),
                cll.ExactMatchLevel("house_id"),
                cll.ExactMatchLevel("building_id"),
                cll.ElseLevel(),
            ],
        ),
    ]
    blocking = [block_on("id_any"), block_on("name_key", "birth"), block_on("phone")]
    creator = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=blocking,
        comparisons=comparisons,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(frame, creator, db_api=DuckDBAPI())
    linker.training.estimate_probability_two_random_records_match([block_on("id_any")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(
        max_pairs=settings.u_sample_pairs, seed=settings.seed
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("id_any"), fix_u_probabilities=True
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("name_key", "birth"), fix_u_probabilities=True
    )
    pred = linker.inference.predict(threshold_match_probability=settings.review_probability)
    out = pred.as_pandas_dataframe()[
        ["unique_id_l", "unique_id_r", "match_probability", "match_weight"]
    ]
    return out


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.nodes: set[int] = set()

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        self.nodes.update((a, b))
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _most_common(values: list[Any]) -> Any:
    """Most frequent value; ties go to the earliest (records are in id order)."""
    counts = Counter(values)
    best = max(counts.values())
    return next(v for v in values if counts[v] == best)


def choose_fields(recs: list[dict[str, Any]]) -> dict[str, Any]:
    """Survivorship: the person's values and the record each came from."""
    out: dict[str, Any] = {}
    ids = [r for r in recs if r["id_number"]]
    if ids:
        number = _most_common([r["id_number"] for r in ids])
        src = next(r for r in ids if r["id_number"] == number)
        out["id_number"] = (number, src["id"])
        out["birth_date"] = (src["birth_date"], src["id"])
        out["gender"] = src["gender"] or ""
    else:
        births = [r for r in recs if r["birth_date"] is not None]
        birth = _most_common([r["birth_date"] for r in births])
        src = next(r for r in births if r["birth_date"] == birth)
        out["id_number"] = ("", None)
        out["birth_date"] = (birth, src["id"])
        out["gender"] = _most_common([r["gender"] for r in recs]) or ""
    named = [r for r in recs if r["name"]]
    name = _most_common([r["name"] for r in named])
    out["name"] = (name, next(r["id"] for r in named if r["name"] == name))

    def latest(key: str) -> tuple[Any, int | None]:
        having = [r for r in recs if r[key]]
        if not having:
            return ("", None)
        best = max(having, key=lambda r: (r["observed_on"] or date.min, r["id"]))
        return (best[key], best["id"])

    out["phone"] = latest("phone")
    placed = [r for r in recs if r["address_id"] is not None]
    if placed:
        best = max(placed, key=lambda r: (r["observed_on"] or date.min, r["id"]))
        out["address"] = (best["address_id"], best["id"])
        out["node_id"] = best["node_id"]
    else:
        addr = latest("address")
        out["address"] = (addr[0], addr[1])
        out["node_id"] = recs[0]["node_id"]
    types = [r["relation"] for r in recs if r["relation"]]
    out["registration_type"] = _most_common(types) if types else "hukou"
    return out


def link_people(
    db: Database,
    now: Callable[[], datetime],
    settings: LinkSettings | None = None,
    step: Step | None = None,
) -> LinkResult:
    """Link every people record and decide the pending ones (see the module doc)."""
    import time

    settings = settings or LinkSettings()
    result = LinkResult()
    t0 = time.perf_counter()

    def mark(name: str) -> None:
        nonlocal t0
        t1 = time.perf_counter()
        result.timings[name] = t1 - t0
        t0 = t1
        if step:
            step(name)

    with db.engine.connect() as conn:
        df = _load(conn)
    result.records = len(df)
    pending_mask = df["outcome"] == Outcome.PENDING.value
    result.pending = int(pending_mask.sum())
    mark("load")
    if result.pending == 0:
        return result
    pairs = (
        score_pairs(_splink_frame(df), settings)
        if len(df) > 1
        else pd.DataFrame(
            columns=["unique_id_l", "unique_id_r", "match_probability", "match_weight"]
        )
    )
    result.pairs = len(pairs)
    gc.collect()  # the splink linker and its DuckDB tables are garbage now: free them first
    mark("score")
    with db.engine.begin() as conn:
        _decide(conn, df, pairs, settings, now(), result)
    mark("decide")
    return result


def _decide(
    conn: Connection,
    df: pd.DataFrame,
    pairs: pd.DataFrame,
    settings: LinkSettings,
    at: datetime,
    result: LinkResult,
) -> None:
    # Only the columns the decisions read: at county scale these dicts are the run's largest
    # Python structure (one per record).
    needed = df.drop(columns=["source", "name_key", "id_digits", "house_id", "building_id"])
    records: dict[int, dict[str, Any]] = {int(r["id"]): r for r in needed.to_dict("records")}
    del needed
    for r in records.values():
        for key in ("address_id", "person_id"):
            v = r[key]
            r[key] = None if v is None or pd.isna(v) else int(v)
        r["birth_date"] = r["birth_date"] if isinstance(r["birth_date"], date) else None
        r["observed_on"] = r["observed_on"] if isinstance(r["observed_on"], date) else None
    pending = {rid for rid, r in records.items() if r["outcome"] == Outcome.PENDING.value}
    reviewed = {
        (a, b): status
        for a, b, status in conn.execute(
            select(ReviewItem.record_a_id, ReviewItem.record_b_id, ReviewItem.status)
        )
    }
    uf = _UnionFind()
    review_pairs: list[tuple[int, int, float, float]] = []
    for a, b, p, w in pairs.itertuples(index=False):
        a, b = (int(a), int(b)) if a < b else (int(b), int(a))
        if a not in pending and b not in pending:
            continue
        if p >= settings.merge_probability and reviewed.get((a, b)) != ReviewStatus.REJECTED:
            uf.union(a, b)
        else:
            review_pairs.append((a, b, float(p), float(w)))
    members: dict[int, list[int]] = {}
    for rid in pending:
        members.setdefault(uf.find(rid), []).append(rid)
    for rid in uf.nodes:
        if rid not in pending:
            members.setdefault(uf.find(rid), []).append(rid)
    for group in members.values():
        group.sort()
    # Existing registry people without records (entered by hand, demo county) join by ID.
    numbers = sorted({records[r]["id_number"] for r in pending if records[r]["id_number"]})
    by_number: dict[str, int] = {}
    for i in range(0, len(numbers), 500):
        by_number.update(
            conn.execute(
                select(Person.id_number, Person.id).where(
                    Person.id_number.in_(numbers[i : i + 500])
                )
            ).all()
        )
    person_records: dict[int, list[int]] = {}
    for rid, r in records.items():
        if r["person_id"] is not None:
            person_records.setdefault(r["person_id"], []).append(rid)

    assign: dict[int, tuple[int | None, str]] = {}  # record -> (person or None = new, outcome)
    new_people: list[list[int]] = []  # record groups that become new people
    touched: set[int] = set()
    cross_person: list[tuple[int, int]] = []
    for group in members.values():
        existing = sorted(
            {records[r]["person_id"] for r in group if records[r]["person_id"] is not None}
        )
        fresh = [r for r in group if r in pending]
        if not existing:
            chosen = choose_fields([records[r] for r in fresh])
            target = by_number.get(chosen["id_number"][0]) if chosen["id_number"][0] else None
            if target is None:
                new_people.append(fresh)
                for i, r in enumerate(fresh):
                    assign[r] = (None, Outcome.ACCEPTED.value if i == 0 else Outcome.MERGED.value)
                continue
            existing = [target]
        target = existing[0]
        for r in fresh:
            assign[r] = (target, Outcome.MERGED.value)
        touched.add(target)
        for other in existing[1:]:
            # The new records bridge two people already in the registry: a human decides.
            a = min(person_records.get(target, [fresh[0]]))
            b = min(person_records.get(other, [fresh[0]]))
            cross_person.append((min(a, b), max(a, b)))
    # New people: insert, then remember their ids for the records.
    people_rows = []
    chosen_new = []
    for group in new_people:
        chosen = choose_fields([records[r] for r in group])
        chosen_new.append((group, chosen))
        people_rows.append(person_values(chosen, at))
    resolve_addresses(conn, people_rows)
    if people_rows:
        ids = (
            conn.execute(
                insert(Person).returning(Person.id, sort_by_parameter_order=True), people_rows
            )
            .scalars()
            .all()
        )
        for (group, _chosen), pid in zip(chosen_new, ids, strict=True):
            for r in group:
                assign[r] = (pid, assign[r][1])
                records[r]["person_id"] = pid
            person_records[pid] = list(group)
        result.people_created = len(ids)
        conn.execute(
            insert(PersonSource),
            [
                provenance_row(pid, chosen, at)
                for (_g, chosen), pid in zip(chosen_new, ids, strict=True)
            ],
        )
    # Record outcomes.
    updates = []
    for r, (pid, outcome) in assign.items():
        updates.append({"rid": r, "pid": pid, "oc": outcome})
        records[r]["person_id"] = pid
        if outcome == Outcome.ACCEPTED.value:
            result.accepted += 1
        else:
            result.merged += 1
    for pid in touched:
        person_records.setdefault(pid, [])
    for r, (pid, _oc) in assign.items():
        if pid in touched and r not in person_records[pid]:
            person_records[pid].append(r)
    if updates:
        conn.execute(
            update(SourceRecord)
            .where(SourceRecord.id == bindparam("rid"))
            .values(person_id=bindparam("pid"), outcome=bindparam("oc")),
            updates,
        )
    # Existing people that gained records: choose their fields again from all their records.
    for pid in sorted(touched):
        recs = [records[r] for r in sorted(person_records[pid])]
        if not recs:
            continue
        chosen = choose_fields(recs)
        values = person_values(chosen, at)
        resolve_addresses(conn, [values])
        values.pop("created_at")
        conn.execute(update(Person).where(Person.id == pid).values(**values))
        prov = provenance_row(pid, chosen, at)
        if conn.execute(
            select(PersonSource.person_id).where(PersonSource.person_id == pid)
        ).first():
            conn.execute(
                update(PersonSource)
                .where(PersonSource.person_id == pid)
                .values(**{k: v for k, v in prov.items() if k != "person_id"})
            )
        else:
            conn.execute(insert(PersonSource).values(**prov))
        result.people_updated += 1
    # Review queue: uncertain pairs between different people, and bridged people.
    items = []
    seen = set(reviewed)
    for a, b, p, w in review_pairs + [(a, b, 1.0, 99.0) for a, b in cross_person]:
        pa, pb = records[a]["person_id"], records[b]["person_id"]
        if pa is None or pb is None or pa == pb or (a, b) in seen:
            continue
        seen.add((a, b))
        items.append(
            {
                "record_a_id": a,
                "record_b_id": b,
                "probability": p,
                "match_weight": w,
                "status": ReviewStatus.PENDING.value,
                "created_at": at,
                "decided_by": "",
                "decided_at": None,
                "merged_into": None,
                "node_id": records[a]["node_id"],
            }
        )
    if items:
        conn.execute(insert(ReviewItem), items)
    result.review_items = len(items)


def person_values(chosen: dict[str, Any], at: datetime) -> dict[str, Any]:
    birth = chosen["birth_date"][0]
    return {
        "name": chosen["name"][0][:50],
        "id_number": chosen["id_number"][0],
        "phone": chosen["phone"][0] or "",
        "address": chosen["address"][0],  # an address id until resolve_addresses
        "gender": chosen["gender"] or "",
        "birth_date": birth,
        "registration_type": chosen["registration_type"],
        "node_id": chosen["node_id"],
        "created_at": at,
    }


def resolve_addresses(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Replace address ids by the standard address's full name (the person's address text)."""
    ids = sorted({r["address"] for r in rows if isinstance(r["address"], int)})
    names: dict[int, str] = {}
    for i in range(0, len(ids), 500):
        names.update(
            conn.execute(
                select(Address.id, Address.full_name).where(Address.id.in_(ids[i : i + 500]))
            ).all()
        )
    for r in rows:
        if isinstance(r["address"], int):
            r["address"] = names.get(r["address"], "")
        r["address"] = (r["address"] or "")[:200]


def provenance_row(pid: int, chosen: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {
        "person_id": pid,
        "name_record_id": chosen["name"][1],
        "id_number_record_id": chosen["id_number"][1],
        "phone_record_id": chosen["phone"][1],
        "birth_date_record_id": chosen["birth_date"][1],
        "address_record_id": chosen["address"][1],
        "updated_at": at,
        "node_id": chosen["node_id"],
    }
