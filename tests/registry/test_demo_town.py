"""The demo county at `town` scale (a tenth of Laohekou: ~23 000 buildings, ~41 000 people):
generated, loaded into a real database (SQLite or PostgreSQL) and checked with the same
invariants as `small` — identities, codes, geometry, households, 寄住/境外, relation history,
人户分离, the river and the roads — and deterministic for a seed (generated twice, in memory).
Generation time is a benchmark line in bench/demo_bench.py, not asserted here."""

from __future__ import annotations

import hashlib
import pickle

import numpy as np
import pytest
from foundation.conftest import (  # noqa: F401 - fixtures used by this module
    DatabaseFactory,
    databases,
    no_personal_data_in_logs,
)

from registry.test_demo import (
    check_buildings,
    check_counts,
    check_households,
    check_identities,
    check_phones,
    check_rooms,
)
from registry.test_demo_map import check_river, check_roads
from registry.test_demo_population import (
    check_history,
    check_lodgers_and_foreigners,
    check_separation,
)
from yitu.core.db import Database
from yitu.demo.generate import Demo, generate
from yitu.demo.load import load


@pytest.fixture(scope="module")
def town(databases: DatabaseFactory) -> Database:  # noqa: F811
    db = Database(databases.fresh())
    counts = load(db, generate("town", 1))
    assert counts["people"] > 30_000
    yield db
    db.dispose()


def test_town_counts(town: Database) -> None:
    check_counts(town, 10)


def test_town_identities_and_phones(town: Database) -> None:
    check_identities(town)
    check_phones(town)


def test_town_buildings_rooms_and_codes(town: Database) -> None:
    check_buildings(town)
    check_rooms(town)


def test_town_households(town: Database) -> None:
    check_households(town)


def test_town_lodgers_foreigners_history_separation(town: Database) -> None:
    check_lodgers_and_foreigners(town)
    check_history(town)
    check_separation(town)


def test_town_river_and_roads(town: Database) -> None:
    check_river(town)
    check_roads(town)


def _digest(demo: Demo) -> str:
    h = hashlib.sha256()
    for table in sorted(demo.tables):
        for col, values in demo.tables[table].items():
            h.update(f"{table}.{col}".encode())
            data = values.tolist() if isinstance(values, np.ndarray) else values
            h.update(pickle.dumps(data, protocol=5))
    return h.hexdigest()


def test_town_same_seed_same_county() -> None:
    assert _digest(generate("town", 9)) == _digest(generate("town", 9))
