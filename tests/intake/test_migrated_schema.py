"""The schema the migrations build is the schema the models declare (tables, columns, types,
nullability, indexes, constraints): a model changed without its migration, or the reverse, is
found here instead of at a county's first upgrade. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
import pkgutil

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from foundation.conftest import DatabaseFactory
from sqlalchemy import create_engine, inspect

import yitu
import yitu.models  # every table, as the migrations' environment sees them
from yitu.core.db import Base


def test_migrations_build_the_models_schema(databases: DatabaseFactory) -> None:
    # Every domain's models module too, found rather than listed: a new one is checked as well.
    for m in pkgutil.walk_packages(yitu.__path__, "yitu."):
        if m.name.endswith("models"):
            importlib.import_module(m.name)
    engine = create_engine(databases.fresh())
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            indexes = {i["name"] for i in inspect(conn).get_indexes("intake_records")}
    finally:
        engine.dispose()
    assert diff == []
    # The indexes no query used (or was slowed by) are gone; the ones the queries need are there.
    assert "ix_intake_records_id_number" not in indexes
    assert "ix_intake_records_node_id" not in indexes
    assert "ix_intake_records_kind_outcome" not in indexes  # a kind is read by a scan
    assert {"ix_intake_records_person_id", "ix_intake_records_file_id"} <= indexes
