"""The review queue (人工复核) and provenance reads. No permission logic here: the API checks
permissions and the session's scope filters every Jurisdictional table (review items, records,
people), so a reviewer sees and decides only items in their jurisdiction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from yitu.core.errors import ConflictError, NotFoundError
from yitu.intake.linkage import (
    IN_REVIEW,
    LINK_CODES,
    LINK_MESSAGES,
    NO_MATCH,
    choose_fields,
    set_person_fields,
)
from yitu.intake.models import (
    ImportFile,
    Kind,
    Outcome,
    PersonSource,
    ReviewItem,
    ReviewStatus,
    RowIssue,
    SourceRecord,
)
from yitu.people.models import Person
from yitu.registry.models import PersonHouse, PersonOrg

NOT_FOUND = "review item not found"


@dataclass
class ReviewView:
    item: ReviewItem
    a: SourceRecord
    b: SourceRecord


def list_reviews(session: Session, status: str, after: int | None, limit: int) -> list[ReviewView]:
    """Items by id (keyset), with their two records; items whose records are out of scope
    are left out."""
    query = select(ReviewItem).where(ReviewItem.status == status).order_by(ReviewItem.id)
    if after is not None:
        query = query.where(ReviewItem.id > after)
    items = list(session.scalars(query.limit(limit)))
    ids = {i.record_a_id for i in items} | {i.record_b_id for i in items}
    records = {
        r.id: r for r in session.scalars(select(SourceRecord).where(SourceRecord.id.in_(ids)))
    }
    return [
        ReviewView(i, records[i.record_a_id], records[i.record_b_id])
        for i in items
        if i.record_a_id in records and i.record_b_id in records
    ]


def _item(session: Session, item_id: int) -> ReviewView:
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFoundError(NOT_FOUND)
    a = session.get(SourceRecord, item.record_a_id)
    b = session.get(SourceRecord, item.record_b_id)
    if a is None or b is None:
        raise NotFoundError(NOT_FOUND)
    return ReviewView(item, a, b)


def _pending(view: ReviewView) -> None:
    if view.item.status != ReviewStatus.PENDING.value:
        raise ConflictError(f"review item already decided ({view.item.status})")


def reject(session: Session, item_id: int, who: str, at: datetime) -> ReviewView:
    """The two records are different people: the linkage never joins them again. A record
    without a person (no birth date) that waits on no other item is now plainly unmatched."""
    view = _item(session, item_id)
    _pending(view)
    view.item.status = ReviewStatus.REJECTED.value
    view.item.decided_by = who[:64]
    view.item.decided_at = at
    session.flush()
    conn = session.connection()
    for rec in (view.a, view.b):
        if rec.person_id is not None:
            continue
        waiting = conn.execute(
            select(ReviewItem.__table__.c.id).where(
                ReviewItem.__table__.c.status == ReviewStatus.PENDING.value,
                (ReviewItem.__table__.c.record_a_id == rec.id)
                | (ReviewItem.__table__.c.record_b_id == rec.id),
            )
        ).first()
        if waiting is None:
            conn.execute(
                update(RowIssue.__table__)
                .where(*_link_issue(rec), RowIssue.__table__.c.code == IN_REVIEW)
                .values(code=NO_MATCH, message=LINK_MESSAGES[NO_MATCH])
            )
    return view


def _link_issue(rec: SourceRecord) -> tuple[Any, ...]:
    t = RowIssue.__table__
    return (t.c.file_id == rec.file_id, t.c.row_number == rec.row_number, t.c.code.in_(LINK_CODES))


def accept_merge(session: Session, item_id: int, who: str, at: datetime) -> tuple[int, int | None]:
    """Merge the two records' people into one (the lower id survives); return (kept,
    removed). Everything pointing at the removed person moves: source records, person–house
    and person–organisation relations; the kept person's fields are chosen again from all its
    records and their provenance rewritten. A record without a person (the linkage rejected
    it for want of a birth date) joins the other record's person: its row becomes ``merged``
    and its reject issue goes (removed is then None)."""
    view = _item(session, item_id)
    _pending(view)
    pa, pb = view.a.person_id, view.b.person_id
    if pa is None and pb is None:
        raise ConflictError("neither record of this item is linked to a person")
    if pa == pb:
        raise ConflictError("both records already belong to the same person")
    conn = session.connection()
    if pa is None or pb is None:
        keep = pb if pa is None else pa
        assert keep is not None
        bare = view.a if pa is None else view.b
        if session.get(Person, keep) is None:  # out of the reviewer's scope: as if missing
            raise NotFoundError(NOT_FOUND)
        gone = None
        issue = _link_issue(bare)
        conn.execute(
            update(SourceRecord.__table__)
            .where(SourceRecord.__table__.c.id == bare.id)
            .values(person_id=keep, outcome=Outcome.MERGED.value)
        )
        conn.execute(delete(RowIssue.__table__).where(*issue))
        session.expunge_all()
    else:
        keep, gone = min(pa, pb), max(pa, pb)
        for pid in (keep, gone):
            if session.get(Person, pid) is None:  # out of the reviewer's scope: as if missing
                raise NotFoundError(NOT_FOUND)
        # Core statements on the tables: the moves must reach rows in any jurisdiction (the
        # person's relations may sit in a neighbouring grid) once the reviewer may see both.
        for table in (SourceRecord.__table__, PersonHouse.__table__, PersonOrg.__table__):
            conn.execute(update(table).where(table.c.person_id == gone).values(person_id=keep))
        conn.execute(
            delete(PersonSource.__table__).where(PersonSource.__table__.c.person_id == gone)
        )
        session.expunge_all()
        conn.execute(delete(Person.__table__).where(Person.__table__.c.id == gone))
    recs = [
        dict(r._mapping)
        for r in conn.execute(
            select(SourceRecord.__table__)
            .where(
                SourceRecord.__table__.c.person_id == keep,
                SourceRecord.__table__.c.kind == Kind.PEOPLE.value,
            )
            .order_by(SourceRecord.__table__.c.id)
        )
    ]
    set_person_fields(conn, keep, choose_fields(recs), at)
    conn.execute(
        update(ReviewItem.__table__)
        .where(ReviewItem.__table__.c.id == item_id)
        .values(
            status=ReviewStatus.MERGED.value,
            decided_by=who[:64],
            decided_at=at,
            merged_into=keep,
        )
    )
    return keep, gone


PROVENANCE_FIELDS = ("name", "id_number", "phone", "birth_date", "address")


def provenance(session: Session, person_id: int) -> tuple[Person, list[dict[str, Any]]]:
    """For each field: every linked record's value (source, file, row, date) and which one the
    person holds."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFoundError("person not found")
    chosen = session.get(PersonSource, person_id)
    records = list(
        session.execute(
            select(SourceRecord, ImportFile.file_name)
            .join(ImportFile, ImportFile.id == SourceRecord.file_id)
            .where(SourceRecord.person_id == person_id, SourceRecord.kind == Kind.PEOPLE.value)
            .order_by(SourceRecord.id)
        ).all()
    )
    out = []
    for field_name in PROVENANCE_FIELDS:
        picked = getattr(chosen, f"{field_name}_record_id", None) if chosen else None
        for rec, file_name in records:
            value = getattr(rec, field_name)
            if value in ("", None):
                continue
            out.append(
                {
                    "field": field_name,
                    "value": value,
                    "source": rec.source,
                    "file": file_name,
                    "row_number": rec.row_number,
                    "observed_on": rec.observed_on,
                    "record_id": rec.id,
                    "chosen": rec.id == picked,
                }
            )
    return person, out
