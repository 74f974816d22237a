"""Jurisdiction scoping, enforced once, in the query layer.

Every business table mixes in :class:`Jurisdictional`. A listener on every ORM ``SELECT``,
``UPDATE`` and ``DELETE`` adds ``node_id IN (nodes the session may see)`` for each such table,
whatever the endpoint, filter, sort, count or relationship load. A session that was not told
its scope sees nothing (fail closed); only trusted code (CLI, migrations, seeding) opens a
session with :data:`UNRESTRICTED`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import (
    ARRAY,
    BindParameter,
    ColumnElement,
    Connection,
    ForeignKey,
    Integer,
    Text,
    any_,
    bindparam,
    cast,
    event,
    false,
    or_,
    select,
)
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)

from yitu.access.models import JurisdictionNode

SCOPE_KEY = "yitu.scope"


class Jurisdictional:
    """Mixin for records that belong to a place in the jurisdiction tree."""

    @declared_attr
    def node_id(cls) -> Mapped[int]:  # noqa: N805 - declared_attr receives the class
        return mapped_column(Integer, ForeignKey("jurisdiction_nodes.id"), index=True)


@dataclass(frozen=True)
class Scope:
    """The jurisdiction nodes (ids) one principal may see: their scope roots and all below."""

    node_ids: frozenset[int]

    def contains(self, node_id: int) -> bool:
        return node_id in self.node_ids

    @cached_property
    def sorted_ids(self) -> list[int]:
        return sorted(self.node_ids)

    @cached_property
    def _bindings(self) -> dict[str, tuple[int, dict[str, Any]]]:
        return {}

    def binding(self, dialect: str) -> tuple[int, dict[str, Any]]:
        """See ``scope_binding``; computed once per scope and dialect (scopes are cached)."""
        hit = self._bindings.get(dialect)
        if hit is None:
            ids = self.sorted_ids
            if dialect == "postgresql":
                hit = (0, {SCOPE_PARAM: "{" + ",".join(map(str, ids)) + "}"})
            else:
                size = 1 << (len(ids) - 1).bit_length() if ids else 0
                padded = ids + ids[-1:] * (size - len(ids))
                hit = (size, {f"{_FIXED_PREFIX}{i}": node for i, node in enumerate(padded)})
            self._bindings[dialect] = hit
        return hit


class _Unrestricted:
    def __repr__(self) -> str:
        return "UNRESTRICTED"


UNRESTRICTED = _Unrestricted()
_NOTHING = Scope(frozenset())


# Expanded scopes, keyed by their roots. The tree changes rarely (a new grid, a reload of the
# divisions): changes made in this process clear the cache at once, changes made by another
# process (the CLI) show within SCOPE_CACHE_SECONDS. A user's own roots are read on every request,
# so a revoked grant is never served from here.
SCOPE_CACHE_SECONDS = 30.0
_scope_cache: dict[tuple[str, frozenset[int]], tuple[float, Scope]] = {}


# Called on invalidate_scopes(): caches holding expanded scopes (yitu.access.auth's principals).
_on_invalidate: list[Callable[[], None]] = []


def invalidate_scopes() -> None:
    _scope_cache.clear()
    for callback in _on_invalidate:
        callback()


def resolve_scope(session: Session | Connection, root_ids: list[int]) -> Scope:
    """Expand scope roots to every node beneath them (one query on the path prefix)."""
    if not root_ids:
        return Scope(frozenset())
    bind = session.get_bind() if isinstance(session, Session) else session
    key = (str(bind.engine.url), frozenset(root_ids))
    hit = _scope_cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < SCOPE_CACHE_SECONDS:
        return hit[1]
    scope = _expand(session, root_ids)
    if len(_scope_cache) > 10_000:
        _scope_cache.clear()
    _scope_cache[key] = (now, scope)
    return scope


def _expand(session: Session | Connection, root_ids: list[int]) -> Scope:
    roots = select(JurisdictionNode.path).where(JurisdictionNode.id.in_(root_ids))
    paths = [p for (p,) in session.execute(roots.execution_options(yitu_trusted=True))]
    if not paths:
        return Scope(frozenset())
    query = select(JurisdictionNode.id).where(
        or_(*[JurisdictionNode.path.startswith(p) for p in paths])
    )
    return Scope(frozenset(session.scalars(query.execution_options(yitu_trusted=True))))


# Core statements (hot read paths that skip the ORM) get the same filter from here: a statement
# built with ``scope_criterion`` must be executed with ``scope_params(scope)``, and an unknown
# or missing scope binds an empty list, which matches nothing (fail closed).
SCOPE_PARAM = "yitu_scope_nodes"


def scope_criterion(table: Any) -> ColumnElement[bool]:
    """``node_id IN (visible nodes)`` for a Core select on a Jurisdictional table."""
    visible: BindParameter[Any] = bindparam(SCOPE_PARAM, expanding=True)
    return table.node_id.in_(visible)  # type: ignore[no-any-return]


def scope_params(scope: object) -> dict[str, list[int]]:
    if isinstance(scope, Scope):
        return {SCOPE_PARAM: scope.sorted_ids}
    if scope is UNRESTRICTED:
        raise ValueError("UNRESTRICTED reads go through an ORM session, not scope_params")
    return {SCOPE_PARAM: []}


# The hot Core reads bind the scope without an expanding IN (SQLAlchemy rewrites the SQL of an
# expanding parameter on every execution): on SQLite ``node_id IN (:yitu_scope_0, …)`` with a
# fixed number of parameters, padded to a power of two by repeating the last id, so a few SQL
# strings serve every scope and each is compiled once; on PostgreSQL one array parameter,
# ``node_id = ANY(CAST(:yitu_scope_nodes AS INTEGER[]))``. ``scope_binding`` gives the size of
# the statement to build (``fixed_scope_criterion``) and the parameters to execute it with.
_FIXED_PREFIX = "yitu_scope_"


def fixed_scope_criterion(table: Any, dialect: str, size: int) -> ColumnElement[bool]:
    """``node_id`` in the visible nodes, for a statement executed with ``scope_binding``'s
    parameters of the same ``size`` (size 0: an empty scope, matches nothing)."""
    if dialect == "postgresql":
        visible = cast(bindparam(SCOPE_PARAM, type_=Text), ARRAY(Integer))
        return table.node_id == any_(visible)  # type: ignore[no-any-return]
    if size == 0:
        return false()
    return table.node_id.in_(  # type: ignore[no-any-return]
        [bindparam(f"{_FIXED_PREFIX}{i}", type_=Integer) for i in range(size)]
    )


def scope_binding(scope: object, dialect: str) -> tuple[int, dict[str, Any]]:
    """(statement size, parameters) binding ``scope`` for ``fixed_scope_criterion``. Fails
    closed: anything but a ``Scope`` binds nothing."""
    if scope is UNRESTRICTED:
        raise ValueError("UNRESTRICTED reads go through an ORM session, not scope_binding")
    return (scope if isinstance(scope, Scope) else _NOTHING).binding(dialect)


@event.listens_for(Session, "do_orm_execute")
def _apply_scope(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get("yitu_trusted"):
        return
    scope = state.session.info.get(SCOPE_KEY)
    if scope is UNRESTRICTED:
        return
    if isinstance(scope, Scope):
        visible = scope.sorted_ids
        criteria = with_loader_criteria(
            Jurisdictional, lambda cls: cls.node_id.in_(visible), include_aliases=True
        )
    else:
        criteria = with_loader_criteria(Jurisdictional, lambda cls: false(), include_aliases=True)
    state.statement = state.statement.options(criteria)
