"""Database engine and sessions. SQLite (WAL) embedded by default; PostgreSQL in production."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Dialect, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """A point in time, stored and compared in UTC on every database; read back time-zone aware.

    SQLite has no time-zone type: SQLAlchemy writes the wall-clock text and drops the offset, so a
    value bound as 09:00+08:00 would be stored, and compared, as 09:00 UTC. Normalising every bound
    value (column values and query parameters alike) to UTC makes SQLite agree with PostgreSQL's
    ``timestamptz``. A naive value is taken as UTC, the project's convention for stored times.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(
        "PRAGMA synchronous=NORMAL"
    )  # WAL + NORMAL: durable at checkpoint, no fsync per commit
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(
    url: str,
    pool_size: int = 10,
    max_overflow: int = 20,
    connect_args: dict[str, Any] | None = None,
) -> Engine:
    """Create an engine; for SQLite make the parent directory and switch on WAL and foreign keys."""
    parsed = make_url(url)
    # hide_parameters: a failing statement's error text must never carry an ID number or phone.
    kwargs: dict[str, Any] = {"hide_parameters": True, "future": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True)
    if connect_args:
        kwargs["connect_args"] = connect_args
    return create_engine(url, **kwargs)


class Database:
    """One engine plus its session factory; the FastAPI app and the CLI each hold one."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Hot single-statement reads need no transaction: on PostgreSQL an autocommit
        # connection saves the BEGIN and the ROLLBACK at check-in (one statement sees one
        # snapshot either way). SQLite's driver opens no transaction for a SELECT anyway. On
        # PostgreSQL it is a pool of its own: the list read runs on the event loop, which must
        # never wait for a connection held by worker threads; and bounded, so that an
        # unreachable server or a runaway statement cannot hold the loop for long.
        self._read_pool = (
            make_engine(
                url,
                pool_size=2,
                max_overflow=8,
                connect_args={"connect_timeout": 5, "options": "-c statement_timeout=10000"},
            )
            if self.engine.dialect.name == "postgresql"
            else self.engine
        )
        self.read_engine = (
            self._read_pool.execution_options(isolation_level="AUTOCOMMIT")
            if self._read_pool is not self.engine
            else self.engine
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self, **info: Any) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        with self.sessions() as session:
            session.info.update(info)
            with session.begin():
                yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self._read_pool is not self.engine:
            self._read_pool.dispose()
