"""Entity resolution of people records across sources (splink, Fellegi–Sunter on DuckDB).

Every run links **all** people records (earlier imports too), so a new source can match any
record seen before; it then decides the ``pending`` ones, and again the ones an earlier run
rejected (a new source may hold their person now):

1. splink scores candidate pairs from four blocking rules — the same ID number (valid, or the
   digits of an invalid one), the same name pinyin key and birth date, the same phone, the same
   name key in the same building — with comparisons on ID digits (exact / 1 / 2 edits), name
   (exact / same pinyin key, which catches homophones and variant characters / close key),
   birth date (exact / 1 edit), phone (exact / 1 edit) and place (same room / same building).
   u-probabilities come from random sampling, m-probabilities from EM on two blocking rules,
   λ from the ID-number rule. DuckDB runs under a memory limit; only the pairs above
   ``review_probability`` leave it, as Arrow batches into numpy arrays.
2. Pairs at or above ``merge_probability`` touching a decided record are clustered strongest
   first under **cannot-link constraints** (``constrained_clusters``): a pair a reviewer
   rejected, two different valid ID numbers, two people already in the registry never end in
   one cluster, not even through a third record; the refused pair goes to the review queue, as
   do pairs between ``review_probability`` and ``merge_probability``. A cluster with no person
   yet becomes one (its first record able to found it ``accepted``, the rest ``merged``); one
   holding a person adds its records to it (``merged``).
3. A record without a birth date (no valid ID number, no date in its digits, no birth-date
   column: the grid survey's blank IDs) cannot found a person. Confidently linked to a
   cluster that can, it is ``merged``; otherwise it is ``rejected`` (``no_id_in_review`` when an
   uncertain match to a person waits in the review queue, else ``no_id_no_match``).
4. Each touched person's fields are chosen from all its records — most frequent valid ID
   number, the name most often written, birth date and gender from that ID (else the most
   frequent birth date), the phone and address of the most recent record — and the record each
   value came from is kept in ``intake_person_sources`` (field-level provenance).

The whole decision step is one transaction: killed half-way, the records stay as they were and
the next run links them again.
"""

from __future__ import annotations

import gc
import logging
import tempfile
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, bindparam, delete, insert, select, update

from yitu.core.db import Database
from yitu.core.heap import bulk_heap
from yitu.intake.bulk import (
    bulk_insert,
    bulk_page_cache,
    bulk_update,
    driver_rows,
    refresh_statistics,
    reserve_ids,
)
from yitu.intake.models import (
    Kind,
    Outcome,
    PersonSource,
    ReviewItem,
    ReviewStatus,
    RowIssue,
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
    # DuckDB's own cap (it spills joins and sorts to a temporary directory beyond it) and its
    # worker threads: the machine has 2 cores, and every thread holds its own buffers.
    duckdb_memory_limit: str = "1GB"
    duckdb_threads: int = 2
    chunk: int = 20_000  # people decided (chosen, inserted, updated) per step


@dataclass
class LinkResult:
    records: int = 0
    pending: int = 0
    pairs: int = 0
    accepted: int = 0
    merged: int = 0
    rejected: int = 0  # records without a birth date and without a confident match
    people_created: int = 0
    people_updated: int = 0
    review_items: int = 0
    review_settled: int = 0  # waiting items whose records a later run joined confidently
    refused: int = 0  # confident pairs not merged: they would join a cannot-link pair
    timings: dict[str, float] = field(default_factory=dict)


# Reject codes the linkage writes (the cleaning's are in rows.py). A row without a birth date
# cannot found a person (people.birth_date is required, and name + room alone do not identify
# anyone), so it is kept only when it links confidently to an identified person.
NO_MATCH = "no_id_no_match"
IN_REVIEW = "no_id_in_review"
LINK_CODES = (NO_MATCH, IN_REVIEW)
LINK_MESSAGES = {
    NO_MATCH: "no ID number or birth date, and no confident match to an identified person",
    IN_REVIEW: "no ID number or birth date; an uncertain match waits in the review queue",
}

COLUMNS = (
    SourceRecord.id,
    SourceRecord.file_id,
    SourceRecord.batch_id,
    SourceRecord.row_number,
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
# Outcome codes of the decision arrays (0: not decided by this run).
ACCEPTED, MERGED, REJECTED = 1, 2, 3
_CODES = (None, Outcome.ACCEPTED.value, Outcome.MERGED.value, Outcome.REJECTED.value)
_NULLABLE_INTS = ("address_id", "house_id", "building_id", "person_id")
_INTS = ("id", "file_id", "batch_id", "row_number", "node_id")


def _load(conn: Connection, chunk: int = 50_000) -> pd.DataFrame:
    """Every people record, id order. Streamed in chunks through the driver's cursor as plain
    tuples, a frame built column by column per chunk (SQLAlchemy rows cost more than the frame:
    pandas probes each row's attributes), integers as int64/Int64."""
    names = [c.key for c in COLUMNS]
    query = select(*COLUMNS).where(SourceRecord.kind == Kind.PEOPLE.value).order_by(SourceRecord.id)
    dates: dict[Any, date | None] = {None: None}  # SQLite returns ISO text: parsed once each

    def as_date(v: Any) -> date | None:
        got = dates.get(v, False)
        if got is False:
            got = dates[v] = v if isinstance(v, date) else date.fromisoformat(v)
        return got  # type: ignore[return-value]

    parts = []
    for rows in driver_rows(conn, query, chunk):
        columns = dict(zip(names, (list(c) for c in zip(*rows, strict=True)), strict=True))
        for col in ("birth_date", "observed_on"):
            columns[col] = [as_date(v) for v in columns[col]]
        part = pd.DataFrame(columns)
        for col in _INTS:
            part[col] = part[col].astype("int64")
        for col in _NULLABLE_INTS:
            part[col] = part[col].astype("Int64")
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=names)
    df = pd.concat(parts, ignore_index=True)
    for col in ("outcome", "gender", "relation"):
        df[col] = df[col].astype("category")  # a handful of values each
    return df


def _splink_table(df: pd.DataFrame) -> pa.Table:
    """The linker's input as Arrow (DuckDB scans it without a copy through pandas)."""

    def text(s: pd.Series) -> pa.Array:
        arr = pa.array(s.astype(object).where(s.notna(), None), type=pa.string())
        return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)

    def key(s: pd.Series) -> pa.Array:
        return pc.cast(pa.array(s, type=pa.int64(), from_pandas=True), pa.string())

    id_any = df["id_number"].where(df["id_number"] != "", df["id_digits"])
    birth = pc.strftime(
        pa.array(df["birth_date"].astype(object), type=pa.date32(), from_pandas=True),
        format="%Y%m%d",
    )
    return pa.table(
        {
            "unique_id": pa.array(df["id"], type=pa.int64()),
            "name": text(df["name"]),
            "name_key": text(df["name_key"]),
            "id_any": text(id_any),
            "birth": birth,
            "phone": text(df["phone"]),
            "house_id": key(df["house_id"]),
            "building_id": key(df["building_id"]),
        }
    )


@dataclass
class Pairs:
    """Scored candidate pairs (``a`` < ``b`` not guaranteed), as arrays."""

    a: np.ndarray
    b: np.ndarray
    p: np.ndarray
    w: np.ndarray

    def __len__(self) -> int:
        return len(self.a)

    @classmethod
    def empty(cls) -> Pairs:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z.copy(), np.zeros(0), np.zeros(0))


def score_pairs(records: pa.Table, settings: LinkSettings) -> Pairs:
    """Candidate pairs with ``match_probability`` ≥ the review threshold (splink on DuckDB).

    DuckDB runs with ``memory_limit``/``threads`` and a temporary directory to spill to; the
    predictions stay in DuckDB and only the four columns the decisions read come out, in Arrow
    batches, into numpy arrays."""
    import duckdb
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
    blocking = [
        block_on("id_any"),
        block_on("name_key", "birth"),
        block_on("phone"),
        # Rows without an ID number or birth date (网格员 often record none): the same name
        # key in the same building.
        block_on("name_key", "building_id"),
    ]
    creator = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=blocking,
        comparisons=comparisons,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    with tempfile.TemporaryDirectory(prefix="yitu-link-") as spill:
        con = duckdb.connect(
            config={
                "memory_limit": settings.duckdb_memory_limit,
                "threads": settings.duckdb_threads,
                "temp_directory": spill,
                "preserve_insertion_order": False,
            }
        )
        try:
            linker = Linker(records, creator, db_api=DuckDBAPI(connection=con))
            linker.training.estimate_probability_two_random_records_match(
                [block_on("id_any")], recall=0.8
            )
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
            reader = con.sql(
                "SELECT unique_id_l, unique_id_r, match_probability, match_weight "
                f"FROM {pred.physical_name}"
            ).to_arrow_reader(200_000)
            cols: list[list[np.ndarray]] = [[], [], [], []]
            for batch in reader:
                for i in range(4):
                    cols[i].append(batch.column(i).to_numpy(zero_copy_only=False))
            del linker, pred
        finally:
            con.close()
    if not cols[0]:
        return Pairs.empty()
    a, b, p, w = (np.concatenate(c) for c in cols)
    return Pairs(a.astype(np.int64), b.astype(np.int64), p.astype(np.float64), w)


class ConstrainedUnionFind:
    """Union–find that refuses a union joining a cannot-link pair.

    Constraints: explicit ``cannot_link`` pairs (a reviewer said "different people"), and
    *exclusive keys* — per key map, a cluster may hold at most one value (two valid ID numbers,
    or two people already in the registry, are never one cluster). Each root keeps its
    members' cannot-link partners and its key values, so a check costs the smaller partner
    set plus the number of key maps."""

    def __init__(
        self,
        cannot_link: Iterable[tuple[int, int]] = (),
        exclusive: Sequence[Mapping[int, Hashable]] = (),
    ) -> None:
        self.parent: dict[int, int] = {}
        self.nodes: set[int] = set()
        self.cannot: dict[int, set[int]] = {}
        for a, b in cannot_link:
            if a != b:
                self.cannot.setdefault(a, set()).add(b)
                self.cannot.setdefault(b, set()).add(a)
        self.exclusive = exclusive
        self.keys: dict[int, tuple[Hashable | None, ...]] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    def _keys(self, root: int) -> tuple[Hashable | None, ...]:
        # A root never seen in a union has its node's own values; only roots holding some
        # value are stored (most records of a county are in no exclusive map twice over).
        got = self.keys.get(root)
        if got is None:
            got = tuple(m.get(root) for m in self.exclusive)
        return got

    def conflict(self, ra: int, rb: int) -> bool:
        """Would joining the clusters of roots ``ra`` and ``rb`` break a constraint?"""
        for x, y in zip(self._keys(ra), self._keys(rb), strict=True):
            if x is not None and y is not None and x != y:
                return True
        ca, cb = self.cannot.get(ra, set()), self.cannot.get(rb, set())
        small, other = (ca, rb) if len(ca) <= len(cb) else (cb, ra)
        return any(self.find(x) == other for x in small)

    def union(self, a: int, b: int) -> bool:
        """Join the clusters of ``a`` and ``b``; False (and nothing changes) if refused."""
        self.nodes.update((a, b))
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if self.conflict(ra, rb):
            return False
        keep, gone = min(ra, rb), max(ra, rb)
        ka, kb = self._keys(keep), self._keys(gone)
        joined = tuple(x if x is not None else y for x, y in zip(ka, kb, strict=True))
        if any(v is not None for v in joined):
            self.keys[keep] = joined
        self.keys.pop(gone, None)
        cg = self.cannot.pop(gone, None)
        if cg:
            ck = self.cannot.setdefault(keep, set())
            if len(ck) < len(cg):
                ck, cg = cg, ck
                self.cannot[keep] = ck
            ck |= cg
        self.parent[gone] = keep
        return True

    def clusters(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for n in sorted(self.nodes):
            out.setdefault(self.find(n), []).append(n)
        return out


Edge = tuple[int, int, float]


def constrained_clusters(
    edges: Iterable[Edge],
    cannot_link: Iterable[tuple[int, int]] = (),
    exclusive: Sequence[Mapping[int, Hashable]] = (),
) -> tuple[ConstrainedUnionFind, list[Edge]]:
    """Cluster must-link ``edges`` (a, b, probability) strongest first; an edge whose union
    would put a cannot-link pair (or two values of an exclusive key) into one cluster is
    refused and returned — A≁B stays apart even when A~C and C~B are both confident."""
    uf = ConstrainedUnionFind(cannot_link, exclusive)
    refused = [
        e
        for e in sorted(edges, key=lambda e: (-e[2], min(e[0], e[1]), max(e[0], e[1])))
        if not uf.union(e[0], e[1])
    ]
    return uf, refused


def components(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of the graph with edges ``a[i]``–``b[i]`` (node ids): the distinct
    nodes, sorted, and each one's label — the smallest node id of its component. Hooking and
    pointer jumping in numpy (a few passes over the edges for a county's million pairs)."""
    nodes, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    ia, ib = inverse[: len(a)], inverse[len(a) :]
    label = np.arange(len(nodes))
    while True:
        la, lb = label[ia], label[ib]
        if (la == lb).all():
            break
        low = np.minimum(la, lb)
        np.minimum.at(label, la, low)  # hook each edge's larger root under the smaller
        np.minimum.at(label, lb, low)
        while True:  # shortcut every node to its root
            up = label[label]
            if (up == label).all():
                break
            label = up
    return nodes, nodes[label]


class Clusters:
    """The clusters of ``cluster_edges``: ``find`` gives a node's cluster root, ``nodes`` the
    nodes of the edges (as ``ConstrainedUnionFind`` does)."""

    def __init__(self, roots: dict[int, int], rest: ConstrainedUnionFind) -> None:
        self.roots = roots
        self.rest = rest
        self.nodes = set(roots) | rest.nodes

    def find(self, x: int) -> int:
        root = self.roots.get(x)
        return root if root is not None else self.rest.find(x)


def cluster_edges(
    a: np.ndarray,
    b: np.ndarray,
    order: np.ndarray,
    cannot_link: Iterable[tuple[int, int]] = (),
    exclusive: Sequence[Mapping[int, Hashable]] = (),
) -> tuple[Clusters, list[int]]:
    """``constrained_clusters`` for edge arrays taken in ``order`` (indices, strongest
    first): the same clusters and the same refused edges (their indices). A component of
    the edges that breaks no constraint as a whole is every union the ordered walk would
    make, so only components holding a cannot-link pair or two values of an exclusive key
    are walked edge by edge in Python (most of a county's components are plain)."""
    nodes, label = components(a, b)
    if len(nodes) == 0:
        return Clusters({}, ConstrainedUnionFind(cannot_link, exclusive)), []
    comp = dict(zip(nodes.tolist(), label.tolist(), strict=True))
    bad: set[int] = set()
    for key_map in exclusive:
        seen: dict[int, Hashable] = {}
        for n, v in key_map.items():
            c = comp.get(n)
            if c is not None and seen.setdefault(c, v) != v:
                bad.add(c)
    cannot = list(cannot_link)
    for x, y in cannot:
        cx = comp.get(x)
        if x != y and cx is not None and cx == comp.get(y):
            bad.add(cx)
    bad_labels = np.fromiter(bad, dtype=np.int64, count=len(bad))
    walked = np.isin(label[np.searchsorted(nodes, a)], bad_labels)  # per edge
    rest = ConstrainedUnionFind(cannot, exclusive)
    refused = [i for i in order[walked[order]].tolist() if not rest.union(int(a[i]), int(b[i]))]
    free = ~np.isin(label, bad_labels)  # per node
    roots = dict(zip(nodes[free].tolist(), label[free].tolist(), strict=True))
    return Clusters(roots, rest), refused


def _most_common(values: list[Any]) -> Any:
    """Most frequent value; ties go to the earliest (records are in id order)."""
    counts = Counter(values)
    best = max(counts.values())
    return next(v for v in values if counts[v] == best)


def choose_fields(recs: list[dict[str, Any]]) -> dict[str, Any]:
    """Survivorship: the person's values and the record each came from. Needs a record with a
    birth date (or a valid ID number, which holds one)."""
    out: dict[str, Any] = {}
    # Only a number that gave a birth date is a valid one: a row kept without a birth date
    # carries whatever digits its ID cell had (for linking), never the person's number.
    ids = [r for r in recs if r["id_number"] and r["birth_date"] is not None]
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

    with bulk_heap() as settle:  # a county's records in memory: keep the collector off them
        with db.engine.connect() as conn:
            df = _load(conn)
        result.records = len(df)
        result.pending = int((df["outcome"] == Outcome.PENDING.value).sum())
        mark("load")
        if result.pending == 0:
            return result
        pairs = score_pairs(_splink_table(df), settings) if len(df) > 1 else Pairs.empty()
        result.pairs = len(pairs)
        gc.collect()  # the splink linker and its DuckDB tables are garbage now: free them first
        settle()
        mark("score")
        with db.engine.connect() as conn, bulk_page_cache(conn), conn.begin():
            _decide(conn, df, pairs, settings, now(), result)
            refresh_statistics(
                conn, (SourceRecord.__table__, Person.__table__, PersonSource.__table__)
            )
        mark("decide")
    return result


class _Records:
    """Column access by record id over the loaded frame; full dicts only for the records of
    the people being decided, a chunk at a time (one dict per record of a county would be the
    run's largest structure)."""

    FIELDS = (
        "id",
        "name",
        "id_number",
        "phone",
        "birth_date",
        "gender",
        "address",
        "address_id",
        "node_id",
        "observed_on",
        "relation",
    )

    def __init__(self, df: pd.DataFrame) -> None:
        self.df = df
        self.ids = df["id"].to_numpy(dtype=np.int64)
        self.person = df["person_id"].fillna(-1).to_numpy(dtype=np.int64)
        self.born = df["birth_date"].notna().to_numpy()
        self.node = df["node_id"].to_numpy(dtype=np.int64)
        self.numbers = df["id_number"].to_numpy(dtype=object)

    def pos(self, rids: Iterable[int]) -> np.ndarray:
        return np.searchsorted(self.ids, np.fromiter(rids, dtype=np.int64))

    def person_of(self, rid: int) -> int | None:
        v = int(self.person[self.pos((rid,))[0]])
        return None if v < 0 else v

    def dicts(self, rids: list[int]) -> dict[int, dict[str, Any]]:
        # Column by column, then zipped: DataFrame.to_dict("records") boxed every cell through
        # pandas and was a sixth of the decision step at county scale.
        pos = self.pos(rids)
        columns = [_plain(field, self.df[field].take(pos)) for field in self.FIELDS]
        out: dict[int, dict[str, Any]] = {}
        for values in zip(*columns, strict=True):
            r = dict(zip(self.FIELDS, values, strict=True))
            out[r["id"]] = r
        return out


_TEXTS = ("name", "id_number", "phone", "gender", "address", "relation")


def _plain(field: str, s: pd.Series) -> list[Any]:
    """A column's values as plain Python: ints, None for a missing id or date, "" for a
    missing text."""
    if field in ("id", "node_id"):
        return s.to_numpy(dtype=np.int64).tolist()
    if field == "address_id":
        return [None if v is None else int(v) for v in s.to_numpy(dtype=object, na_value=None)]
    if field in _TEXTS:
        return [str(v) for v in s.astype(object).where(s.notna(), "").tolist()]
    return [v if isinstance(v, date) else None for v in s.tolist()]  # dates


def _decide(
    conn: Connection,
    df: pd.DataFrame,
    pairs: Pairs,
    settings: LinkSettings,
    at: datetime,
    result: LinkResult,
) -> None:
    recs = _Records(df)
    # Pending records, and the records an earlier run rejected for want of a birth date and a
    # confident match: a new source may hold that person now.
    redo = df["outcome"].isin([Outcome.PENDING.value, Outcome.REJECTED.value]).to_numpy()
    pending = set(recs.ids[redo].tolist())
    conn.execute(delete(RowIssue).where(RowIssue.code.in_(LINK_CODES)))
    reviewed = {
        (a, b): status
        for a, b, status in conn.execute(
            select(ReviewItem.record_a_id, ReviewItem.record_b_id, ReviewItem.status)
        )
    }
    cannot = [k for k, v in reviewed.items() if v == ReviewStatus.REJECTED.value]
    a_arr = np.minimum(pairs.a, pairs.b)
    b_arr = np.maximum(pairs.a, pairs.b)
    touch = np.isin(a_arr, recs.ids[redo]) | np.isin(b_arr, recs.ids[redo])
    strong = touch & (pairs.p >= settings.merge_probability)
    weak = touch & ~strong
    review_pairs: list[tuple[int, int, float, float]] = list(
        zip(
            a_arr[weak].tolist(),
            b_arr[weak].tolist(),
            pairs.p[weak].tolist(),
            pairs.w[weak].tolist(),
            strict=True,
        )
    )
    # Exclusive keys of the records in confident pairs: their valid ID number, their person.
    nodes = np.unique(np.concatenate([a_arr[strong], b_arr[strong]]))
    at_pos = recs.pos(nodes.tolist())
    numbers = recs.numbers[at_pos]
    id_key = {
        int(n): str(v) for n, v in zip(nodes, numbers, strict=True) if isinstance(v, str) and v
    }
    person_key = {int(n): int(v) for n, v in zip(nodes, recs.person[at_pos], strict=True) if v >= 0}
    # constrained_clusters' order (strongest first, then by ids) with numpy: no list of edge
    # tuples for a county's million pairs.
    sa, sb, sp, sw = a_arr[strong], b_arr[strong], pairs.p[strong], pairs.w[strong]
    uf, refused = cluster_edges(sa, sb, np.lexsort((sb, sa, -sp)), cannot, (id_key, person_key))
    result.refused = len(refused)
    review_pairs += [(int(sa[i]), int(sb[i]), float(sp[i]), float(sw[i])) for i in refused]
    members: dict[int, list[int]] = {}
    for rid in sorted(pending):
        members.setdefault(uf.find(rid), []).append(rid)
    for rid in uf.nodes:
        if rid not in pending:
            members.setdefault(uf.find(rid), []).append(rid)
    for group in members.values():
        group.sort()
    # Existing registry people without records (entered by hand, demo county) join by ID.
    pend_pos = recs.pos(sorted(pending))
    wanted = sorted({v for v in recs.numbers[pend_pos] if isinstance(v, str) and v})
    by_number: dict[str, int] = {}
    for i in range(0, len(wanted), 500):
        by_number.update(
            conn.execute(
                select(Person.id_number, Person.id).where(Person.id_number.in_(wanted[i : i + 500]))
            ).all()
        )

    # Per record position: the person it lands on (-1: none) and its outcome code (0: not
    # decided by this run) — arrays, not a dict of tuples per record.
    to_person = np.full(len(recs.ids), -1, dtype=np.int64)
    to_code = np.zeros(len(recs.ids), dtype=np.int8)
    new_groups: list[list[int]] = []
    touched: set[int] = set()
    unidentified: list[int] = []
    for group in members.values():
        gpos = recs.pos(group)
        persons = sorted({int(v) for v in recs.person[gpos] if v >= 0})
        fresh = [r for r in group if r in pending]
        if persons:  # at most one: the person key is exclusive
            target = persons[0]
        elif not recs.born[gpos].any():
            unidentified.extend(fresh)  # nobody here can found a person
            continue
        else:
            born = gpos[recs.born[gpos]]
            ids = [v for v in recs.numbers[born] if isinstance(v, str) and v]
            target = by_number.get(_most_common(ids)) if ids else None
            if target is None:
                new_groups.append(fresh)
                continue
        fpos = recs.pos(fresh)
        to_person[fpos] = target
        to_code[fpos] = MERGED
        touched.add(target)

    # New people, a chunk at a time: choose fields, insert, provenance.
    for i in range(0, len(new_groups), settings.chunk):
        chunk = new_groups[i : i + settings.chunk]
        data = recs.dicts([r for g in chunk for r in g])
        chosen_new = [choose_fields([data[r] for r in g]) for g in chunk]
        rows = [person_values(c, at) for c in chosen_new]
        resolve_addresses(conn, rows)
        ids = reserve_ids(conn, Person.__table__, len(rows))
        for row, id_ in zip(rows, ids, strict=True):
            row["id"] = id_
        bulk_insert(conn, Person.__table__, rows)
        bulk_insert(
            conn,
            PersonSource.__table__,
            [provenance_row(pid, c, at) for c, pid in zip(chosen_new, ids, strict=True)],
        )
        for g, pid in zip(chunk, ids, strict=True):
            # The first record that could found the person alone is the accepted one.
            founder = next(r for r in g if data[r]["birth_date"] is not None)
            gpos = recs.pos(g)
            to_person[gpos] = pid
            to_code[gpos] = [ACCEPTED if r == founder else MERGED for r in g]
        result.people_created += len(ids)

    # Review queue: uncertain pairs, and confident ones refused by a constraint, between two
    # different people or between a person and a record that has none (no birth date).
    def person_after(rid: int) -> int | None:
        at_ = recs.pos((rid,))[0]
        decided_here = bool(to_code[at_]) or rid in pending
        v = int(to_person[at_]) if decided_here else int(recs.person[at_])
        return None if v < 0 else v

    items = []
    seen = set(reviewed)
    in_review: set[int] = set()
    unidentified_set = set(unidentified)
    for a, b, p, w in review_pairs:
        pa, pb = person_after(a), person_after(b)
        if (a, b) in seen or pa == pb or (pa is None and pb is None):
            continue
        if (pa is None and a not in unidentified_set) or (pb is None and b not in unidentified_set):
            continue
        seen.add((a, b))
        in_review.update(r for r in (a, b) if r in unidentified_set)
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
                "node_id": int(recs.node[recs.pos((a,))[0]]),
            }
        )
    if items:
        conn.execute(insert(ReviewItem), items)
    result.review_items = len(items)
    # Items still waiting whose two records this run put on one person (a newer source
    # settled the match): closed, so no reviewer is asked about a pair already decided.
    settled = []
    for (a, b), status in reviewed.items():
        pa = person_after(a) if status == ReviewStatus.PENDING.value else None
        if pa is not None and pa == person_after(b):
            reviewed[(a, b)] = ReviewStatus.SETTLED.value
            settled.append({"ra": a, "rb": b, "pid": pa})
    if settled:
        t = ReviewItem.__table__
        conn.execute(
            update(t)
            .where(t.c.record_a_id == bindparam("ra"), t.c.record_b_id == bindparam("rb"))
            .values(
                status=ReviewStatus.SETTLED.value,
                decided_by="linkage",
                decided_at=at,
                merged_into=bindparam("pid"),
            ),
            settled,
        )
    result.review_settled = len(settled)

    # Record outcomes (and the linkage's reject issues).
    # (executemany parameters built a slice at a time: one dict per record of a county is a
    # few hundred MB)
    if unidentified:
        to_code[recs.pos(unidentified)] = REJECTED
    decided = np.flatnonzero(to_code)

    def outcomes() -> Iterator[tuple[int | None, str | None, int]]:
        # Plain tuples, made a slice at a time as they are sent: one dict per record of a
        # county is a few hundred MB, and SQLAlchemy's executemany built each one slowly.
        for i in range(0, len(decided), 50_000):
            part = decided[i : i + 50_000]
            for rid, pid, oc in zip(
                recs.ids[part].tolist(),
                to_person[part].tolist(),
                to_code[part].tolist(),
                strict=True,
            ):
                yield (None if pid < 0 else pid, _CODES[oc], rid)

    bulk_update(conn, SourceRecord.__table__, "id", ("person_id", "outcome"), outcomes())
    result.accepted = int((to_code == ACCEPTED).sum())
    result.merged = int((to_code == MERGED).sum())
    result.rejected = len(unidentified)
    if unidentified:
        # An item an earlier run opened for the row may still wait for a reviewer.
        waiting = {
            r
            for pair, status in reviewed.items()
            if status == ReviewStatus.PENDING.value
            for r in pair
        }
        upos = recs.pos(unidentified)
        issues = []
        for r, fid, bid, row in zip(
            unidentified,
            df["file_id"].to_numpy()[upos].tolist(),
            df["batch_id"].to_numpy()[upos].tolist(),
            df["row_number"].to_numpy()[upos].tolist(),
            strict=True,
        ):
            code = IN_REVIEW if r in in_review or r in waiting else NO_MATCH
            issues.append(
                {
                    "file_id": fid,
                    "batch_id": bid,
                    "row_number": row,
                    "severity": "reject",
                    "field": "id_number",
                    "code": code,
                    "message": LINK_MESSAGES[code],
                    "town": "",
                    "masked_value": "",
                }
            )
        bulk_insert(conn, RowIssue.__table__, issues)

    # Existing people that gained records: choose their fields again from all their records.
    if touched:
        touched_ids = np.fromiter(sorted(touched), dtype=np.int64)
        has = np.isin(recs.person, touched_ids)
        by_person: dict[int, list[int]] = {}
        for rid, pid in zip(recs.ids[has].tolist(), recs.person[has].tolist(), strict=True):
            by_person.setdefault(pid, []).append(rid)
        joined = (to_code == MERGED) & np.isin(to_person, touched_ids)
        for rid, pid in zip(recs.ids[joined].tolist(), to_person[joined].tolist(), strict=True):
            by_person.setdefault(pid, []).append(rid)
        people = sorted(touched)
        for i in range(0, len(people), settings.chunk):
            chunk = people[i : i + settings.chunk]
            data = recs.dicts(sorted({r for pid in chunk for r in by_person.get(pid, [])}))
            for pid in chunk:
                own = [data[r] for r in sorted(set(by_person.get(pid, [])))]
                if not any(r["birth_date"] is not None for r in own):
                    continue  # a hand-entered person joined by bare records keeps its fields
                set_person_fields(conn, pid, choose_fields(own), at)
                result.people_updated += 1


def set_person_fields(conn: Connection, pid: int, chosen: dict[str, Any], at: datetime) -> None:
    """Write an existing person's chosen fields and their provenance."""
    values = person_values(chosen, at)
    resolve_addresses(conn, [values])
    values.pop("created_at")
    conn.execute(update(Person.__table__).where(Person.__table__.c.id == pid).values(**values))
    prov = provenance_row(pid, chosen, at)
    table = PersonSource.__table__
    if conn.execute(select(table.c.person_id).where(table.c.person_id == pid)).first():
        conn.execute(
            update(table)
            .where(table.c.person_id == pid)
            .values(**{k: v for k, v in prov.items() if k != "person_id"})
        )
    else:
        conn.execute(table.insert().values(**prov))


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
