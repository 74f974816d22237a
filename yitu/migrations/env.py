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
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTER needs batch mode
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
