"""The category dictionary and departments as data (``yitu/cases/data/*.json``), loaded once
and then edited through the API: an edit is a new version of the category, never an update of
the row a case was filed under.

``department`` ``"township"`` in a category means "the 乡镇/街道 the case is in"."""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from yitu.access.models import JurisdictionNode
from yitu.cases.errors import field_error
from yitu.cases.models import Category, CategoryKind, Department, TimeUnit
from yitu.cases.workflow import Stage
from yitu.core.errors import ConflictError, InvalidInputError, NotFoundError

TOWNSHIP = "township"
_TRUSTED = {"yitu_trusted": True}
GRADES = ("normal", "urgent")


def _data(name: str) -> Any:
    return json.loads((resources.files("yitu.cases") / "data" / name).read_text("utf-8"))


def validate_time_limits(limits: Any) -> dict[str, dict[str, list[Any]]]:
    """``{grade: {stage: [value, unit]}}`` with known grades, stages and units; names the bad
    part in the error."""
    if not isinstance(limits, dict) or "normal" not in limits:
        raise InvalidInputError("time_limits must be an object with at least a 'normal' grade")
    out: dict[str, dict[str, list[Any]]] = {}
    for grade, stages in limits.items():
        if grade not in GRADES:
            raise InvalidInputError(f"time_limits grade {grade!r} must be normal or urgent")
        if not isinstance(stages, dict):
            raise InvalidInputError(f"time_limits.{grade} must be an object of stages")
        out[grade] = {}
        for stage, spec in stages.items():
            if stage not in {s.value for s in Stage}:
                raise InvalidInputError(
                    f"time_limits.{grade}.{stage}: stage must be one of {', '.join(Stage)}"
                )
            if (
                not isinstance(spec, list | tuple)
                or len(spec) != 2
                or not isinstance(spec[0], int | float)
                or isinstance(spec[0], bool)
                or spec[0] <= 0
                or spec[1] not in {u.value for u in TimeUnit}
            ):
                raise InvalidInputError(
                    f"time_limits.{grade}.{stage} must be [value > 0, unit] with unit one of "
                    f"{', '.join(TimeUnit)}"
                )
            out[grade][stage] = [float(spec[0]), str(spec[1])]
    if "handle" not in out["normal"]:
        raise InvalidInputError("time_limits.normal.handle (处置时限) is required")
    return out


def seed(session: Session, at: datetime) -> dict[str, int]:
    """Load the bundled departments and categories; existing codes are kept (idempotent).
    Counts what it added, and the known departments it ``placed`` on their township node
    (the divisions loaded after them)."""
    counts = {"departments": 0, "categories": 0, "placed": 0}
    have = {d.code: d for d in session.scalars(select(Department))}
    nodes = {
        code: nid
        for nid, code in session.execute(
            select(JurisdictionNode.id, JurisdictionNode.code), execution_options=_TRUSTED
        )
    }
    for row in _data("departments.json")["departments"]:
        if row["code"] in have:
            known = have[row["code"]]
            if known.node_id is None and row["node_code"] and row["node_code"] in nodes:
                known.node_id = nodes[row["node_code"]]  # the divisions arrived after it
                counts["placed"] += 1
            continue
        d = Department(
            code=row["code"],
            name_zh=row["name_zh"],
            name_en=row["name_en"],
            kind=row["kind"],
            node_id=nodes.get(row["node_code"]) if row["node_code"] else None,
        )
        session.add(d)
        have[d.code] = d
        counts["departments"] += 1
    session.flush()
    existing = set(session.scalars(select(Category.code)))
    for row in _data("categories.json")["categories"]:
        if row["code"] in existing:
            continue
        dept = row["department"]
        session.add(
            Category(
                code=row["code"],
                version=1,
                kind=row["kind"],
                major_code=row["major_code"],
                major_name_zh=row["major_name_zh"],
                minor_code=row["minor_code"],
                name_zh=row["name_zh"],
                name_en=row["name_en"],
                filing_condition=row["filing_condition"],
                closing_condition=row["closing_condition"],
                time_limits=validate_time_limits(row["time_limits"]),
                department_id=None if dept == TOWNSHIP else have[dept].id,
                duplicate_radius_m=row["duplicate_radius_m"],
                valid_from=at,
            )
        )
        counts["categories"] += 1
    session.flush()
    return counts


def current_category(session: Session, code: str, at: datetime | None = None) -> Category:
    """The version of ``code`` in force at ``at`` (now: the open-ended one)."""
    stmt = select(Category).where(Category.code == code)
    if at is None:
        stmt = stmt.where(Category.valid_to.is_(None))
    else:
        stmt = stmt.where(
            Category.valid_from <= at, (Category.valid_to.is_(None)) | (Category.valid_to > at)
        )
    cat = session.scalars(stmt.order_by(Category.version.desc()).limit(1)).first()
    if cat is None:
        raise field_error("category_code", "is not a known category")
    return cat


def list_categories(session: Session, at: datetime | None = None) -> list[Category]:
    stmt = select(Category)
    if at is None:
        stmt = stmt.where(Category.valid_to.is_(None))
    else:
        stmt = stmt.where(
            Category.valid_from <= at, (Category.valid_to.is_(None)) | (Category.valid_to > at)
        )
    return list(session.scalars(stmt.order_by(Category.code)))


def category_versions(session: Session, code: str) -> list[Category]:
    rows = list(
        session.scalars(select(Category).where(Category.code == code).order_by(Category.version))
    )
    if not rows:
        raise NotFoundError(f"category {code} not found")
    return rows


def get_department(session: Session, code: str, field: str = "department") -> Department:
    d = session.scalar(select(Department).where(Department.code == code))
    if d is None or not d.active:
        raise field_error(field, "is not a known department")
    return d


EDITABLE = (
    "name_zh",
    "name_en",
    "major_name_zh",
    "filing_condition",
    "closing_condition",
    "time_limits",
    "department",
    "duplicate_radius_m",
)


def _check_fields(values: dict[str, Any]) -> None:
    if "duplicate_radius_m" in values:
        r = values["duplicate_radius_m"]
        if not isinstance(r, int | float) or isinstance(r, bool) or not 0 <= r <= 5000:
            raise InvalidInputError("duplicate_radius_m must be between 0 and 5000")
    for name in ("name_zh", "major_name_zh"):
        if name in values and not str(values[name] or "").strip():
            raise InvalidInputError(f"{name} must not be empty")


def create_category(
    session: Session, values: dict[str, Any], *, at: datetime, user_id: int | None
) -> Category:
    """A new category (version 1). ``code`` = kind letter (C/E/S) + 大类 + 小类."""
    kind = values.get("kind")
    if kind not in {k.value for k in CategoryKind}:
        raise InvalidInputError(f"kind must be one of {', '.join(CategoryKind)}")
    major, minor = str(values.get("major_code", "")), str(values.get("minor_code", ""))
    if not (major.isdigit() and len(major) == 2 and minor.isdigit() and len(minor) == 2):
        raise InvalidInputError("major_code and minor_code must be 2 digits each")
    code = {"component": "C", "event": "E", "social": "S"}[kind] + major + minor
    if session.scalar(select(Category.id).where(Category.code == code)) is not None:
        raise ConflictError(f"category {code} exists: edit it (a new version) instead")
    _check_fields(values)
    dept = values.get("department")
    cat = Category(
        code=code,
        version=1,
        kind=kind,
        major_code=major,
        major_name_zh=str(values.get("major_name_zh") or "").strip(),
        minor_code=minor,
        name_zh=str(values.get("name_zh") or "").strip(),
        name_en=str(values.get("name_en") or ""),
        filing_condition=str(values.get("filing_condition") or ""),
        closing_condition=str(values.get("closing_condition") or ""),
        time_limits=validate_time_limits(values.get("time_limits")),
        department_id=None if dept in (None, TOWNSHIP) else get_department(session, dept).id,
        duplicate_radius_m=float(values.get("duplicate_radius_m", 50.0)),
        valid_from=at,
        created_by=user_id,
    )
    if not cat.name_zh or not cat.major_name_zh:
        raise InvalidInputError("name_zh and major_name_zh are required")
    session.add(cat)
    session.flush()
    return cat


def revise_category(
    session: Session, code: str, changes: dict[str, Any], *, at: datetime, user_id: int | None
) -> Category:
    """A new version of ``code`` with ``changes`` applied, in force from ``at``; the current
    version ends at ``at``. Cases filed earlier keep pointing at their version."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidInputError(f"not editable: {', '.join(sorted(unknown))}")
    if not changes:
        raise InvalidInputError("nothing to change")
    _check_fields(changes)
    old = session.scalar(
        select(Category)
        .where(Category.code == code, Category.valid_to.is_(None))
        .with_for_update()
    )
    if old is None:
        raise NotFoundError(f"category {code} not found")
    new = Category(
        code=old.code,
        version=old.version + 1,
        kind=old.kind,
        major_code=old.major_code,
        major_name_zh=old.major_name_zh,
        minor_code=old.minor_code,
        name_zh=old.name_zh,
        name_en=old.name_en,
        filing_condition=old.filing_condition,
        closing_condition=old.closing_condition,
        time_limits=old.time_limits,
        department_id=old.department_id,
        duplicate_radius_m=old.duplicate_radius_m,
        valid_from=at,
        created_by=user_id,
    )
    for key, value in changes.items():
        if key == "time_limits":
            new.time_limits = validate_time_limits(value)
        elif key == "department":
            new.department_id = (
                None if value in (None, TOWNSHIP) else get_department(session, value).id
            )
        elif key == "duplicate_radius_m":
            new.duplicate_radius_m = float(value)
        else:
            setattr(new, key, str(value).strip() if key != "name_en" else str(value))
    old.valid_to = at
    session.flush()  # end the old version before the new one exists (unique code+version)
    session.add(new)
    session.flush()
    return new


def retire_category(session: Session, code: str, *, at: datetime) -> None:
    """No new reports under ``code`` from ``at`` (the history stays)."""
    old = session.scalar(select(Category).where(Category.code == code, Category.valid_to.is_(None)))
    if old is None:
        raise NotFoundError(f"category {code} not found")
    old.valid_to = at
    session.flush()
