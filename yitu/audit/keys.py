"""The audit HMAC key lives outside the database: ``YITU_AUDIT_KEY`` or a 0600 key file."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from yitu.core.settings import Settings


class AuditKey:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("audit key must be at least 16 bytes")
        self.secret = secret
        # Names the key in every record, so a rotated key can still verify older records.
        self.key_id = hashlib.sha256(secret).hexdigest()[:12]


def load_audit_key(settings: Settings, create: bool = True) -> AuditKey:
    if settings.audit_key:
        return AuditKey(settings.audit_key.encode())
    path: Path = settings.resolved_audit_key_file
    if not path.exists():
        if not create:
            raise FileNotFoundError(f"audit key file {path} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    return AuditKey(path.read_text().strip().encode())
