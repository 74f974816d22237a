"""Alembic environment: the URL comes from the caller (``yitu db upgrade``), never from a file."""

from __future__ import annotations

from alembic import context

from yitu.core.db import make_engine
from yitu.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite changes a table's constraints by copying it into a new table and dropping
            # the old one. With foreign keys on, that DROP checks every row of it against each
            # table that references it (an intake_records rebuild at county scale ran for over
            # half an hour); SQLite's own procedure switches them off (only possible outside a
            # transaction) and checks them all once at the end instead.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=sqlite,  # SQLite ALTER needs batch mode
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(
                        f"the migration left {len(broken)} rows whose foreign key names no row, "
                        f"first in table {broken[0][0]}: nothing was changed"
                    )
    engine.dispose()


run_migrations_online()
