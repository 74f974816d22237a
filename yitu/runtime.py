"""What a running platform holds: settings, database, audit log and clock, built once at start."""

from __future__ import annotations

from dataclasses import dataclass

from yitu.audit.chain import AuditLog
from yitu.audit.keys import load_audit_key
from yitu.core.clock import Clock, SystemClock
from yitu.core.db import Database
from yitu.core.settings import Settings


@dataclass
class Platform:
    settings: Settings
    db: Database
    audit: AuditLog
    clock: Clock

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None) -> Platform:
        clock = clock or SystemClock()
        db = Database(settings.resolved_database_url)
        return cls(settings, db, AuditLog(db, load_audit_key(settings), clock), clock)
