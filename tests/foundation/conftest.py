"""Fixtures: a real database per test (SQLite, or PostgreSQL when ``YITU_TEST_DATABASE_URL`` says
so), a seeded county with users of every role, and a log check on every test.

Isolation: one migrated template per run; each test (or module) gets its own copy: a file copy on
SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL. All test databases are dropped at the end.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from foundation.world import World, build_world, make_platform
from yitu.access.jurisdiction import load_divisions
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.core.logs import ID_NUMBER_RE, MOBILE_RE, quiet_sql
from yitu.core.migrate import upgrade

PG_ENV = "YITU_TEST_DATABASE_URL"


class DatabaseFactory:
    """Hands out fresh copies of a migrated template database."""

    def __init__(self, base_url: str | None, tmp: Path) -> None:
        self.base_url = base_url
        self.tmp = tmp
        self.run = uuid.uuid4().hex[:8]
        self.created: list[str] = []
        self.template = self._new_name("tmpl")
        if base_url:
            self._admin(f'CREATE DATABASE "{self.template}"')
        self.template_url = self._url(self.template)
        upgrade(self.template_url)
        platform = make_platform(self.template_url, tmp / "tmpl-data")
        with platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
            load_divisions(session)
        platform.db.dispose()

    @property
    def dialect(self) -> str:
        return "postgresql" if self.base_url else "sqlite"

    def _new_name(self, kind: str) -> str:
        name = f"yitu_test_{self.run}_{kind}_{len(self.created)}"
        self.created.append(name)
        return name

    def _url(self, name: str) -> str:
        if self.base_url:
            return make_url(self.base_url).set(database=name).render_as_string(hide_password=False)
        return f"sqlite:///{self.tmp / (name + '.db')}"

    def _admin(self, sql: str) -> None:
        assert self.base_url
        engine = create_engine(self.base_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(sql))
        engine.dispose()

    def fresh(self) -> str:
        name = self._new_name("db")
        if self.base_url:
            self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        else:
            shutil.copyfile(self.tmp / (self.template + ".db"), self.tmp / (name + ".db"))
        return self._url(name)

    def drop_all(self) -> None:
        if not self.base_url:
            return
        for name in reversed(self.created):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(os.environ.get(PG_ENV) or None, tmp_path_factory.mktemp("db"))
    yield factory
    factory.drop_all()


@pytest.fixture
def db_url(databases: DatabaseFactory) -> str:
    """A fresh, migrated database with the county's divisions and nothing else."""
    return databases.fresh()


@pytest.fixture(scope="module")
def world(databases: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A seeded county shared by one module's read-only tests."""
    w = build_world(databases.fresh(), tmp_path_factory.mktemp("world"))
    yield w
    w.close()


@pytest.fixture
def fresh_world(databases: DatabaseFactory, tmp_path: Path) -> Iterator[World]:
    """A seeded county for one test that changes things (lockout, tampering, expiry)."""
    w = build_world(databases.fresh(), tmp_path)
    yield w
    w.close()


@pytest.fixture(autouse=True)
def no_personal_data_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test: nothing logged may contain an ID number or a mobile number."""
    caplog.set_level(logging.INFO)
    quiet_sql()  # as `yitu serve` does
    yield
    leaks = [
        f"{r.name}: {r.getMessage()[:200]}"
        for r in caplog.records
        if ID_NUMBER_RE.search(r.getMessage()) or MOBILE_RE.search(r.getMessage())
    ]
    assert not leaks, f"personal data reached the logs: {leaks}"
