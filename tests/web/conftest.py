"""Web fixtures: the foundation's databases and log check, and a map county: the foundation
world (users of every role, logged in) with the small demo county loaded into it (boundaries,
grids, roads, the Han River, 2 386 buildings)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from foundation.conftest import (  # noqa: F401 - fixtures re-exported for this package
    DatabaseFactory,
    databases,
    no_personal_data_in_logs,
)
from foundation.world import World, build_world

from yitu.demo.generate import generate
from yitu.demo.load import load

_DEMO = None


def small_demo():  # type: ignore[no-untyped-def]
    """The small demo county (seed 1), generated once per test run (deterministic)."""
    global _DEMO
    if _DEMO is None:
        _DEMO = generate("small", 1)
    return _DEMO


@pytest.fixture(scope="module")
def map_world(
    databases: DatabaseFactory,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    w = build_world(databases.fresh(), tmp_path_factory.mktemp("map"))
    load(w.platform.db, small_demo())
    yield w
    w.close()


@pytest.fixture
def fresh_map_world(
    databases: DatabaseFactory,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    """A map world of its own, for a test that writes."""
    w = build_world(databases.fresh(), tmp_path_factory.mktemp("map"))
    load(w.platform.db, small_demo())
    yield w
    w.close()
