"""The list's scope binding (``scope_binding`` / ``fixed_scope_criterion``): exactly the
scope's nodes, whatever its size, in a few statement sizes; anything but a scope binds none."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from foundation.world import World
from yitu.access.models import JurisdictionNode
from yitu.access.principal import Principal
from yitu.access.roles import Role
from yitu.access.scope import SCOPE_PARAM, UNRESTRICTED, Scope, scope_binding
from yitu.people import services
from yitu.people.models import Person


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 8, 9, 100])
def test_sqlite_binding_pads_to_a_power_of_two_with_the_scope_ids(n: int) -> None:
    ids = list(range(10, 10 + n))
    size, params = scope_binding(Scope(frozenset(ids)), "sqlite")
    assert size == (0 if n == 0 else 1 << (n - 1).bit_length())
    assert len(params) == size and set(params.values()) == set(ids)


def test_postgresql_binding_is_one_array_literal() -> None:
    assert scope_binding(Scope(frozenset({3, 1, 2})), "postgresql") == (0, {SCOPE_PARAM: "{1,2,3}"})
    assert scope_binding(Scope(frozenset()), "postgresql") == (0, {SCOPE_PARAM: "{}"})


def test_anything_but_a_scope_binds_nothing() -> None:
    assert scope_binding(None, "sqlite") == (0, {})
    assert scope_binding(object(), "postgresql") == (0, {SCOPE_PARAM: "{}"})
    with pytest.raises(ValueError):
        scope_binding(UNRESTRICTED, "sqlite")


def test_list_returns_exactly_the_people_of_scopes_of_every_size(world: World) -> None:
    db = world.platform.db
    with db.engine.connect() as conn:
        nodes = [
            n for (n,) in conn.execute(select(JurisdictionNode.id).order_by(JurisdictionNode.id))
        ]
        people = conn.execute(select(Person.id, Person.node_id)).all()
    with_people = sorted({node for _, node in people})
    for k in range(0, len(with_people) + 1):
        visible = frozenset(with_people[:k]) | frozenset(nodes[:k])  # some nodes hold nobody
        principal = Principal(1, "t", Role.OPERATOR, 0, Scope(visible))
        with db.read_engine.connect() as conn:
            rows, _ = services.list_people(
                conn, principal, services.PersonFilter(), date(2026, 1, 1), limit=200
            )
        assert sorted(r[0] for r in rows) == sorted(p for p, node in people if node in visible)
