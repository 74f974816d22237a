"""Alembic driven from code; the migration scripts ship inside the package (yitu/migrations)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # configparser interpolation: a literal '%' in a password must be doubled.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    # "heads": each domain adds its migrations on its own branch off the registry; all branches
    # are applied (Alembic orders them by their down_revision chains).
    command.upgrade(alembic_config(url), revision)
