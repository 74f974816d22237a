"""Registry fixtures: the foundation's databases and log check, plus a fixture county."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from foundation.conftest import (  # noqa: F401 - fixtures re-exported for this package
    DatabaseFactory,
    databases,
    no_personal_data_in_logs,
)
from foundation.world import World, build_world

from registry.county import County, build_county


@pytest.fixture(scope="module")
def county_world(
    databases: DatabaseFactory,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[World, County]]:
    w = build_world(databases.fresh(), tmp_path_factory.mktemp("county"))
    c = build_county(w)
    yield w, c
    w.close()
