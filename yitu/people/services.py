"""Reading and writing people. Jurisdiction filtering is not done here: the session's scope
(``yitu.access.scope``) adds it to every ORM statement, so these queries cannot forget it. The
list, which runs on every list request, is a Core statement: it takes its filter from
``fixed_scope_criterion`` and its visible nodes from ``scope_binding`` (nothing without a
scope)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from yitu.access.jurisdiction import get_node, normalize_code
from yitu.access.models import JurisdictionNode
from yitu.access.principal import Principal
from yitu.access.scope import fixed_scope_criterion, scope_binding
from yitu.core.clock import Clock
from yitu.core.errors import ForbiddenError, InvalidInputError, NotFoundError
from yitu.core.pagination import decode_cursor, encode_cursor
from yitu.people.idnumber import parse_id_number
from yitu.people.models import Person

# Only non-personal keys: sorting by a masked field would leak its hidden part through order.
SORTS: dict[str, tuple[str, bool]] = {
    "id": ("id", False),
    "-id": ("id", True),
    "created_at": ("created_at", False),
    "-created_at": ("created_at", True),
    "node": ("node_id", False),
    "-node": ("node_id", True),
}


# Lists select columns, not entities, as Core statements with the scope's criterion.
PERSON_COLUMNS = (
    Person.id,
    Person.node_id,
    Person.name,
    Person.id_number,
    Person.phone,
    Person.address,
    Person.gender,
    Person.birth_date,
    Person.created_at,
)


@dataclass
class PersonFilter:
    node: str | None = None
    gender: str | None = None
    age_min: int | None = None
    age_max: int | None = None


def _years_before(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def _filtered(
    stmt: Select[Any], session: Session, principal: Principal, f: PersonFilter, today: date
) -> Select[Any]:
    if f.node:
        node = get_node(session, f.node)
        if not principal.scope.contains(node.id):
            raise ForbiddenError(f"jurisdiction node {node.code} is outside your scope")
        subtree = select(JurisdictionNode.id).where(JurisdictionNode.path.startswith(node.path))
        stmt = stmt.where(Person.node_id.in_(subtree))
    if f.gender:
        if f.gender not in ("M", "F"):
            raise InvalidInputError("gender must be M or F")
        stmt = stmt.where(Person.gender == f.gender)
    if f.age_min is not None:
        stmt = stmt.where(Person.birth_date <= _years_before(today, f.age_min))
    if f.age_max is not None:
        stmt = stmt.where(Person.birth_date > _years_before(today, f.age_max + 1))
    return stmt


def _list_statement(
    dialect: str,
    scope_size: int,
    sort: str,
    cursor: bool,
    node: bool,
    gender: bool,
    age_min: bool,
    age_max: bool,
) -> Select[Any]:
    """The list query for one shape of request; values are bound at execution. Core, not ORM
    (this runs on every list request): the jurisdiction filter comes from
    ``fixed_scope_criterion``. ``created_at`` is read only when it is the sort key (the cursor
    needs it; every other use reads the first eight columns)."""
    column_name, desc = SORTS[sort]
    column = getattr(Person, column_name)
    columns = PERSON_COLUMNS if column_name == "created_at" else PERSON_COLUMNS[:-1]
    stmt = select(*columns).where(fixed_scope_criterion(Person, dialect, scope_size))
    if node:
        subtree = select(JurisdictionNode.id).where(
            JurisdictionNode.path.startswith(bindparam("node_path"))
        )
        stmt = stmt.where(Person.node_id.in_(subtree))
    if gender:
        stmt = stmt.where(Person.gender == bindparam("gender"))
    if age_min:
        stmt = stmt.where(Person.birth_date <= bindparam("born_by"))
    if age_max:
        stmt = stmt.where(Person.birth_date > bindparam("born_after"))
    if cursor:
        key, last_id = bindparam("last_key"), bindparam("last_id")
        if desc:
            stmt = stmt.where(or_(column < key, and_(column == key, Person.id < last_id)))
        else:
            stmt = stmt.where(or_(column > key, and_(column == key, Person.id > last_id)))
    order = (column.desc(), Person.id.desc()) if desc else (column.asc(), Person.id.asc())
    return stmt.order_by(*order).limit(bindparam("limit"))


_statements: dict[tuple[Any, ...], Select[Any]] = {}
_NODE_BY_CODE = select(JurisdictionNode.id, JurisdictionNode.code, JurisdictionNode.path).where(
    JurisdictionNode.code == bindparam("code")
)


def list_people(
    conn: Connection,
    principal: Principal,
    f: PersonFilter,
    today: date,
    *,
    sort: str = "id",
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Any], str | None]:
    """One page of people in the principal's scope (rows of ``PERSON_COLUMNS``)."""
    if sort not in SORTS:
        raise InvalidInputError(f"sort must be one of: {', '.join(SORTS)}")
    column_name, _ = SORTS[sort]
    dialect = conn.dialect.name
    scope_size, scope_bound = scope_binding(principal.scope, dialect)
    params: dict[str, Any] = {**scope_bound, "limit": limit + 1}
    if f.node:
        code = normalize_code(f.node)
        node = conn.execute(_NODE_BY_CODE, {"code": code}).first()
        if node is None:
            raise NotFoundError(f"jurisdiction node {code} does not exist")
        if not principal.scope.contains(node.id):
            raise ForbiddenError(f"jurisdiction node {node.code} is outside your scope")
        params["node_path"] = node.path
    if f.gender:
        if f.gender not in ("M", "F"):
            raise InvalidInputError("gender must be M or F")
        params["gender"] = f.gender
    if f.age_min is not None:
        params["born_by"] = _years_before(today, f.age_min)
    if f.age_max is not None:
        params["born_after"] = _years_before(today, f.age_max + 1)
    if cursor:
        last_key, last_id = decode_cursor(cursor, 2)
        params["last_key"] = (
            _parse_time(last_key) if column_name == "created_at" else _int(last_key)
        )
        params["last_id"] = _int(last_id)
    shape = (
        dialect,
        scope_size,
        sort,
        bool(cursor),
        bool(f.node),
        bool(f.gender),
        f.age_min is not None,
        f.age_max is not None,
    )
    stmt = _statements.get(shape)
    if stmt is None:
        stmt = _statements[shape] = _list_statement(*shape)
    rows: list[Any] = conn.execute(stmt, params).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        key = getattr(last, column_name)
        next_cursor = encode_cursor(
            [key.isoformat() if column_name == "created_at" else key, last.id]
        )
    return rows, next_cursor


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError("cursor does not belong to this sort order")
    return value


def _parse_time(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInputError(
            "cursor is not valid: pass the next_cursor of a previous page"
        ) from exc


def count_people(session: Session, principal: Principal, f: PersonFilter, today: date) -> int:
    stmt = _filtered(select(func.count()).select_from(Person), session, principal, f, today)
    return int(session.scalar(stmt) or 0)


def get_person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:  # the same answer for "absent" and "outside your jurisdiction"
        raise NotFoundError(f"person {person_id} not found")
    return person


_PHONE = re.compile(r"^\+?\d[\d-]{4,19}$")


def search_people(
    session: Session, *, id_number: str | None, phone: str | None, name: str | None, limit: int
) -> tuple[list[Person], str]:
    """Exact lookup by one key (§C5: search may use the full value, results come back masked)."""
    given = [k for k, v in (("id_number", id_number), ("phone", phone), ("name", name)) if v]
    if len(given) != 1:
        raise InvalidInputError("give exactly one of id_number, phone or name")
    stmt = select(Person)
    if id_number:
        stmt = stmt.where(Person.id_number == id_number.strip().upper())
    elif phone:
        if not _PHONE.match(phone.strip()):
            raise InvalidInputError("phone must be digits (optionally with '-' or a leading '+')")
        stmt = stmt.where(Person.phone == phone.strip())
    else:
        stmt = stmt.where(Person.name == (name or "").strip())
    return list(session.scalars(stmt.order_by(Person.id).limit(limit))), given[0]


def create_person(
    session: Session,
    principal: Principal,
    clock: Clock,
    *,
    name: str,
    id_number: str,
    phone: str,
    address: str,
    node_code: str,
) -> Person:
    node = get_node(session, node_code)
    if not principal.scope.contains(node.id):
        raise ForbiddenError(f"jurisdiction node {node.code} is outside your scope")
    if not name.strip():
        raise InvalidInputError("name must not be empty")
    if phone and not _PHONE.match(phone.strip()):
        raise InvalidInputError("phone must be digits (optionally with '-' or a leading '+')")
    number, birth, gender = parse_id_number(id_number)
    person = Person(
        name=name.strip(),
        id_number=number,
        phone=phone.strip(),
        address=address.strip(),
        gender=gender,
        birth_date=birth,
        node_id=node.id,
        created_at=clock.now(),
    )
    session.add(person)
    session.flush()
    return person
