"""What a running platform holds: settings, database, audit log and clock, built once at start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

from yitu.audit.chain import AuditLog
from yitu.audit.keys import load_audit_key
from yitu.core.clock import Clock, SystemClock
from yitu.core.db import Database
from yitu.core.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class Platform:
    settings: Settings
    db: Database
    audit: AuditLog
    clock: Clock

    @property
    def inline_db(self) -> bool:
        """Embedded SQLite work is in-process CPU work: a thread hop only adds GIL hand-offs, so it
        runs on the event loop. PostgreSQL work waits on a socket, so it goes to the thread pool."""
        return self.db.dialect == "sqlite"

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run blocking database work the way that suits the database (see ``inline_db``)."""
        if self.inline_db:
            return fn(*args, **kwargs)
        return await run_in_threadpool(fn, *args, **kwargs)

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None) -> Platform:
        clock = clock or SystemClock()
        db = Database(settings.resolved_database_url)
        return cls(settings, db, AuditLog(db, load_audit_key(settings), clock), clock)
