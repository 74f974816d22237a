"""Intake tables: imported files and their batches, the cleaned source records (one per
accepted input row), row issues (rejects and warnings), field-level provenance of linked people
and the review queue of uncertain matches.

Idempotency lives in two unique keys: a file is known by ``(source, kind, file_hash)`` and a
row by ``(source, kind, row_key)`` (``row_key``: the first 64 bits of the row's SHA-256,
``row_hash``); a batch is committed together with its rows, so a killed import leaves whole
batches only and a re-run resumes after the last committed one.

Records carry personal data (name, ID number, phone, address), so they are ``Jurisdictional``:
``node_id`` is the grid of the matched address, else the county (the tree's root), and the
review queue and provenance follow the same scope rules as the people they describe.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from yitu.access.scope import Jurisdictional
from yitu.core.db import Base, UtcDateTime


class Kind(StrEnum):
    """What a source file describes."""

    PEOPLE = "people"  # 实有人口
    HOUSES = "houses"  # 实有房屋 / 标准地址
    ORGANISATIONS = "organisations"  # 实有单位
    RELATIONS = "relations"  # 人房关系


class Outcome(StrEnum):
    """Where an input row ended. ``pending``: stored, waiting for the linkage run that decides
    between accepted (a new registry record) and merged (into an existing one)."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    MERGED = "merged"
    REJECTED = "rejected"


class ReviewStatus(StrEnum):
    PENDING = "pending"
    MERGED = "merged"  # a reviewer accepted the match: the two people are one
    REJECTED = "rejected"  # a reviewer said they differ: never proposed or merged again
    SETTLED = "settled"  # a later linkage run joined the two records itself, confidently


def row_key(row_hash: str) -> int:
    """The unique key of a row within its source: ``row_hash``'s first 64 bits as a signed
    integer (a BIGINT on every database). Two different rows of one source share a key with a
    probability of about n²/2⁶⁵ (10⁻⁸ for a million rows); the importer compares full hashes,
    so such a pair would fail its batch on the unique key, never merge silently."""
    return int.from_bytes(bytes.fromhex(row_hash[:16]), "big", signed=True)


class ImportFile(Base):
    """One input file of one source, known by its content hash."""

    __tablename__ = "intake_files"
    __table_args__ = (UniqueConstraint("source", "kind", "file_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(200))
    file_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the bytes
    mapping_hash: Mapped[str] = mapped_column(String(64))
    rows_total: Mapped[int] = mapped_column(Integer)
    batch_size: Mapped[int] = mapped_column(Integer)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ImportBatch(Base):
    """A committed batch: its rows, records and issues were written in the same transaction."""

    __tablename__ = "intake_batches"
    __table_args__ = (UniqueConstraint("file_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("intake_files.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # 0, 1, … in file order
    row_start: Mapped[int] = mapped_column(Integer)  # first data row number (1 = first row)
    rows: Mapped[int] = mapped_column(Integer)
    stored: Mapped[int] = mapped_column(Integer)  # new source records (outcome decided later)
    duplicates: Mapped[int] = mapped_column(Integer)  # rows already imported: merged
    rejected: Mapped[int] = mapped_column(Integer)
    committed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SourceRecord(Jurisdictional, Base):
    """One accepted input row, cleaned. Which fields are filled depends on ``kind``."""

    __tablename__ = "intake_records"
    __table_args__ = (
        # On the 64-bit key, not the 64-character hash: at county scale (1.9 M records) the text
        # key made every inserted row cost a random write into an index three times as large
        # (measured on SQLite: 58 against 20 µs a row for a 20 000-row batch).
        UniqueConstraint("source", "kind", "row_key"),
        # No index on (kind, outcome): a kind is most of the table, read faster by a scan in
        # id order (migration 0006_intake_no_kind_index).
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("intake_files.id"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("intake_batches.id"), index=True)
    source: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    row_number: Mapped[int] = mapped_column(Integer)
    row_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the mapped cells, hex
    row_key: Mapped[int] = mapped_column(BigInteger)  # row_hash's first 64 bits, signed
    observed_on: Mapped[date | None] = mapped_column(Date)  # when the source said it
    # person fields (people, relations)
    name: Mapped[str] = mapped_column(String(50), default="")
    name_key: Mapped[str] = mapped_column(String(80), default="")  # pinyin key (homophones)
    id_number: Mapped[str] = mapped_column(String(18), default="")  # valid only
    id_digits: Mapped[str] = mapped_column(String(24), default="")  # raw digits, invalid IDs
    phone: Mapped[str] = mapped_column(String(20), default="")
    birth_date: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(1), default="")
    # place
    address: Mapped[str] = mapped_column(String(200), default="")
    address_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id"))
    house_id: Mapped[int | None] = mapped_column(ForeignKey("houses.id"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id"))
    # relations / houses / organisations
    relation: Mapped[str] = mapped_column(String(24), default="")
    house_use: Mapped[str] = mapped_column(String(20), default="")
    credit_code: Mapped[str] = mapped_column(String(18), default="")
    org_name: Mapped[str] = mapped_column(String(100), default="")
    org_kind: Mapped[str] = mapped_column(String(24), default="")
    # where it landed
    outcome: Mapped[str] = mapped_column(String(10), default=Outcome.PENDING.value)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    target_id: Mapped[int | None] = mapped_column(Integer)  # person_houses row of a relation
    # No index on the place (unlike other Jurisdictional tables): records are reached by file,
    # batch, person or id, never listed by place, and every imported row paid for it.
    node_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction_nodes.id"))


class RowIssue(Base):
    """A cleaning finding on one input row: ``reject`` ends the row, ``warning`` is kept for
    the data-quality report. Never holds the raw value (the reject file masks it from the row)."""

    __tablename__ = "intake_issues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("intake_files.id"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("intake_batches.id"), index=True)
    row_number: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(8))  # reject | warning
    field: Mapped[str] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(200))
    town: Mapped[str] = mapped_column(String(40), default="")  # for the report (parsed address)
    masked_value: Mapped[str] = mapped_column(String(80), default="")


class PersonSource(Jurisdictional, Base):
    """Field-level provenance of a linked person: for each field the person holds, the source
    record it came from (hence source, file and date). The other records linked to the person
    (``intake_records.person_id``) are what the other sources said."""

    __tablename__ = "intake_person_sources"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    name_record_id: Mapped[int | None] = mapped_column(ForeignKey("intake_records.id"))
    id_number_record_id: Mapped[int | None] = mapped_column(ForeignKey("intake_records.id"))
    phone_record_id: Mapped[int | None] = mapped_column(ForeignKey("intake_records.id"))
    birth_date_record_id: Mapped[int | None] = mapped_column(ForeignKey("intake_records.id"))
    address_record_id: Mapped[int | None] = mapped_column(ForeignKey("intake_records.id"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ReviewItem(Jurisdictional, Base):
    """An uncertain match between two source records linked to two different people."""

    __tablename__ = "intake_reviews"
    __table_args__ = (
        UniqueConstraint("record_a_id", "record_b_id"),
        Index("ix_intake_reviews_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_a_id: Mapped[int] = mapped_column(ForeignKey("intake_records.id"))
    record_b_id: Mapped[int] = mapped_column(ForeignKey("intake_records.id"))
    probability: Mapped[float] = mapped_column(Float)
    match_weight: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10), default=ReviewStatus.PENDING.value)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    merged_into: Mapped[int | None] = mapped_column(Integer)  # surviving person id
