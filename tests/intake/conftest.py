"""Intake fixtures: the foundation's databases and log check, plus the small demo county
(generated once per run and copied per module) that cleaning, matching and the noisy sources
are tested against."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from foundation.conftest import (  # noqa: F401 - fixtures re-exported for this package
    DatabaseFactory,
    databases,
    no_personal_data_in_logs,
)

from yitu.core.db import Database
from yitu.demo.generate import Demo, generate
from yitu.demo.load import load

DEMO_SEED = 1


@pytest.fixture(scope="session")
def small_demo() -> Demo:
    """The generated (not yet loaded) small demo county, seed 1."""
    return generate("small", DEMO_SEED)


@pytest.fixture(scope="module")
def demo_db(databases: DatabaseFactory, small_demo: Demo) -> Iterator[Database]:  # noqa: F811
    """A fresh migrated database holding the small demo county (read-only for the module)."""
    db = Database(databases.fresh())
    load(db, small_demo)
    yield db
    db.dispose()
