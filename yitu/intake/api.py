"""HTTP API under ``/api/v1/intake``: the review queue of uncertain matches, imported files
with their row accounting, and a person's field-level provenance. Personal values leave masked
for the caller's role (list tier for the queue, detail tier for provenance) and every read of
them is audited, as are the reviewers' decisions."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from yitu.access.deps import requires, scoped_change, scoped_session
from yitu.access.masking import (
    Purpose,
    Tier,
    mask_address,
    mask_id_number,
    mask_name,
    mask_phone,
    tier_for,
)
from yitu.access.principal import Principal
from yitu.access.roles import Permission
from yitu.audit.chain import Entry
from yitu.core.errors import InvalidInputError
from yitu.intake import review
from yitu.intake.importer import accounting
from yitu.intake.models import ImportFile, ReviewStatus, SourceRecord
from yitu.runtime import Platform

router = APIRouter(prefix="/intake", tags=["intake"])

Reviewer = Annotated[Principal, Depends(requires(Permission.INTAKE_REVIEW))]


class RecordOut(BaseModel):
    record_id: int
    source: str
    row_number: int
    person_id: int | None
    name: str
    id_number: str | None
    phone: str | None
    address: str
    birth_year: int | None  # the full birth date is L3 only


class ReviewOut(BaseModel):
    id: int
    status: str
    probability: float
    match_weight: float
    a: RecordOut
    b: RecordOut
    decided_by: str
    merged_into: int | None


class ReviewPage(BaseModel):
    items: list[ReviewOut]
    next_cursor: str | None


class MergeOut(BaseModel):
    id: int
    status: str
    kept_person_id: int
    removed_person_id: int | None  # None: a record without a person joined the kept one


class FileOut(BaseModel):
    id: int
    source: str
    kind: str
    file_name: str
    rows_total: int
    complete: bool
    accepted: int
    merged: int
    rejected: int
    pending: int


class ProvenanceItem(BaseModel):
    field: str
    value: str | None
    source: str
    file: str
    row_number: int
    observed_on: date | None
    chosen: bool


class ProvenanceOut(BaseModel):
    person_id: int
    fields: list[ProvenanceItem]


def _record(rec: SourceRecord, tier: Tier) -> RecordOut:
    return RecordOut(
        record_id=rec.id,
        source=rec.source,
        row_number=rec.row_number,
        person_id=rec.person_id,
        name=mask_name(rec.name, tier),
        id_number=mask_id_number(rec.id_number or rec.id_digits, tier),
        phone=mask_phone(rec.phone, tier),
        address=mask_address(rec.address, tier),
        birth_year=rec.birth_date.year if rec.birth_date and tier >= Tier.L1 else None,
    )


def _review(view: review.ReviewView, tier: Tier) -> ReviewOut:
    i = view.item
    return ReviewOut(
        id=i.id,
        status=i.status,
        probability=i.probability,
        match_weight=i.match_weight,
        a=_record(view.a, tier),
        b=_record(view.b, tier),
        decided_by=i.decided_by,
        merged_into=i.merged_into,
    )


def _merge_detail(item_id: int, keep: int, gone: int | None) -> str:
    if gone is None:
        return f"intake review {item_id}: record linked to person {keep}"
    return f"intake review {item_id}: merged person {gone} into {keep}"


def _persons(view: review.ReviewView) -> list[int]:
    return sorted({p for p in (view.a.person_id, view.b.person_id) if p is not None})


@router.get("/reviews", response_model=ReviewPage, summary="Uncertain matches (masked L1)")
async def list_reviews(
    request: Request,
    principal: Reviewer,
    status: ReviewStatus = ReviewStatus.PENDING,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReviewPage:
    platform: Platform = request.app.state.platform
    tier = tier_for(principal.role, Purpose.LIST)
    try:
        after = int(cursor) if cursor else None
    except ValueError as exc:
        raise InvalidInputError("cursor is not valid") from exc

    def work() -> ReviewPage:
        with scoped_session(platform, principal) as session:
            views = review.list_reviews(session, status, after, limit)
            page = ReviewPage(
                items=[_review(v, tier) for v in views],
                next_cursor=str(views[-1].item.id) if len(views) == limit else None,
            )
        ids = sorted({p for v in views for p in _persons(v)})
        if ids:
            platform.audit.record(
                Entry(
                    "view",
                    principal.actor,
                    object_type="person",
                    object_ids=ids,
                    fields=["name", "id_number", "phone", "address"],
                    purpose=Purpose.LIST.value,
                    detail="intake review queue",
                )
            )
        return page

    return await platform.call(work)


@router.post(
    "/reviews/{item_id}/merge",
    response_model=MergeOut,
    summary="Accept a match: merge the two people into one (audited)",
)
async def merge(item_id: int, request: Request, principal: Reviewer) -> MergeOut:
    platform: Platform = request.app.state.platform

    def work() -> MergeOut:
        # The merge and its audit record commit together, or neither.
        with scoped_change(platform, principal) as change:
            keep, gone = review.accept_merge(
                change.session, item_id, principal.actor.username, platform.clock.now()
            )
            change.record(
                Entry(
                    "update",
                    principal.actor,
                    object_type="person",
                    object_ids=[keep] if gone is None else [keep, gone],
                    detail=_merge_detail(item_id, keep, gone),
                )
            )
        return MergeOut(id=item_id, status="merged", kept_person_id=keep, removed_person_id=gone)

    return await platform.call(work)


@router.post(
    "/reviews/{item_id}/reject",
    response_model=ReviewOut,
    summary="Reject a match: the two records are different people (audited)",
)
async def reject(item_id: int, request: Request, principal: Reviewer) -> ReviewOut:
    platform: Platform = request.app.state.platform
    tier = tier_for(principal.role, Purpose.LIST)

    def work() -> ReviewOut:
        with scoped_change(platform, principal) as change:
            view = review.reject(
                change.session, item_id, principal.actor.username, platform.clock.now()
            )
            out = _review(view, tier)
            change.record(
                Entry(
                    "update",
                    principal.actor,
                    object_type="person",
                    object_ids=_persons(view),
                    detail=f"intake review {item_id}: not the same person",
                )
            )
        return out

    return await platform.call(work)


@router.get(
    "/files", response_model=list[FileOut], summary="Imported files and where their rows ended"
)
async def files(request: Request, principal: Reviewer) -> list[FileOut]:
    platform: Platform = request.app.state.platform

    def work() -> list[FileOut]:
        from sqlalchemy import select

        with platform.db.engine.connect() as conn:
            rows = conn.execute(select(ImportFile).order_by(ImportFile.id)).all()
            out = []
            for f in rows:
                acc = accounting(conn, f.id)
                out.append(
                    FileOut(
                        id=f.id,
                        source=f.source,
                        kind=f.kind,
                        file_name=f.file_name,
                        rows_total=f.rows_total,
                        complete=f.complete,
                        accepted=acc["accepted"],
                        merged=acc["merged"],
                        rejected=acc["rejected"],
                        pending=acc["pending"],
                    )
                )
        return out

    return await platform.call(work)


def _masked_value(field: str, value: Any, tier: Tier) -> str | None:
    if field == "name":
        return mask_name(value, tier)
    if field == "id_number":
        return mask_id_number(value, tier)
    if field == "phone":
        return mask_phone(value, tier)
    if field == "address":
        return mask_address(value, tier)
    if field == "birth_date":
        return value.isoformat() if tier >= Tier.L3 else str(value.year)
    return str(value)


@router.get(
    "/people/{person_id}/provenance",
    response_model=ProvenanceOut,
    summary="Which source said what, when, for one person (masked L2, audited)",
)
async def person_provenance(
    person_id: int,
    request: Request,
    principal: Annotated[Principal, Depends(requires(Permission.PERSON_DETAIL))],
) -> ProvenanceOut:
    platform: Platform = request.app.state.platform
    tier = tier_for(principal.role, Purpose.DETAIL)

    def work() -> ProvenanceOut:
        with scoped_session(platform, principal) as session:
            _person, items = review.provenance(session, person_id)
        platform.audit.record(
            Entry(
                "view",
                principal.actor,
                object_type="person",
                object_ids=[person_id],
                fields=list(review.PROVENANCE_FIELDS),
                purpose=Purpose.DETAIL.value,
                detail="intake provenance",
            )
        )
        return ProvenanceOut(
            person_id=person_id,
            fields=[
                ProvenanceItem(
                    field=i["field"],
                    value=_masked_value(i["field"], i["value"], tier),
                    source=i["source"],
                    file=i["file"],
                    row_number=i["row_number"],
                    observed_on=i["observed_on"],
                    chosen=i["chosen"],
                )
                for i in items
            ],
        )

    return await platform.call(work)
