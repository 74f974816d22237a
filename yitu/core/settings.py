"""Settings from the environment (``YITU_*``) and an optional ``.env`` file."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob the platform reads at start-up. Defaults give the embedded SQLite set-up."""

    model_config = SettingsConfigDict(env_prefix="YITU_", env_file=".env", extra="ignore")

    # Where the embedded database, the audit key and other local state live.
    data_dir: Path = Path("data")
    # Empty means the embedded default: SQLite (WAL) at ``<data_dir>/yitu.db``.
    database_url: str = ""
    # HMAC key of the audit chain. Empty: read (or create, 0600) ``<data_dir>/audit.key``.
    audit_key: str = ""
    audit_key_file: Path | None = None

    session_idle_minutes: int = Field(30, ge=1)
    session_max_hours: int = Field(12, ge=1)
    lockout_threshold: int = Field(5, ge=1)
    lockout_minutes: int = Field(30, ge=1)

    max_body_bytes: int = Field(1_048_576, ge=1024)
    default_page_size: int = Field(50, ge=1)
    max_page_size: int = Field(200, ge=1)

    log_level: str = "INFO"

    @property
    def session_idle(self) -> timedelta:
        return timedelta(minutes=self.session_idle_minutes)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'yitu.db').as_posix()}"

    @property
    def resolved_audit_key_file(self) -> Path:
        return self.audit_key_file or self.data_dir / "audit.key"


@lru_cache
def get_settings() -> Settings:
    return Settings()
