"""Linkage quality against a truth file (``truth.csv`` of ``yitu demo sources``: source,
row_number, person_key).

**Pairwise** precision and recall over the stored people records (rows rejected or dropped as
identical duplicates are not records and are counted apart): a pair of records is *predicted*
to match when both are linked to the same person, and *truly* matches when both rows carry the
same ``person_key``. precision = TP / predicted pairs, recall = TP / true pairs. Pairs are
counted from cluster sizes (Σ n·(n−1)/2 over clusters and over their intersections), never
enumerated, so a 1.2M-record run costs seconds.

The peer, a plain exact-key dedup, is scored the same way: records with the same valid cleaned
ID number are one person, every other record is its own.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, select

from yitu.intake.models import ImportFile, Kind, SourceRecord


@dataclass
class Quality:
    records: int
    true_pairs: int
    predicted_pairs: int
    true_positive: int

    @property
    def precision(self) -> float:
        return self.true_positive / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive / self.true_pairs if self.true_pairs else 1.0


def read_truth(path: Path) -> dict[tuple[str, int], str]:
    with path.open(encoding="utf-8", newline="") as f:
        return {(r["source"], int(r["row_number"])): r["person_key"] for r in csv.DictReader(f)}


def _pairs(counter: Counter[object]) -> int:
    return sum(n * (n - 1) // 2 for n in counter.values())


def score(labels: list[tuple[str, object]]) -> Quality:
    """``labels``: (true key, predicted cluster) per record."""
    truth = Counter(t for t, _p in labels)
    predicted = Counter(p for _t, p in labels)
    both = Counter(labels)
    return Quality(len(labels), _pairs(truth), _pairs(predicted), _pairs(both))


def linked_records(conn: Connection) -> list[tuple[str, int, int | None, str]]:
    """(source, row number, person id, cleaned ID number) of every people record."""
    return [
        (s, n, p, i)
        for s, n, p, i in conn.execute(
            select(
                SourceRecord.source,
                SourceRecord.row_number,
                SourceRecord.person_id,
                SourceRecord.id_number,
            )
            .join(ImportFile, ImportFile.id == SourceRecord.file_id)
            .where(SourceRecord.kind == Kind.PEOPLE.value)
        )
    ]


def evaluate(conn: Connection, truth: dict[tuple[str, int], str]) -> tuple[Quality, Quality]:
    """(yitu linkage, exact-ID-number peer) on the same records."""
    ours: list[tuple[str, object]] = []
    peer: list[tuple[str, object]] = []
    for source, row, person, number in linked_records(conn):
        key = truth.get((source, row))
        if key is None:
            continue
        ours.append((key, ("p", person) if person is not None else ("r", source, row)))
        peer.append((key, ("id", number) if number else ("r", source, row)))
    return score(ours), score(peer)
