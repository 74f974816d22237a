"""Case settings (``YITU_CASES_*`` in the environment or ``.env``)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YITU_CASES_", env_file=".env", extra="ignore")

    #: Working periods of a work day, local time (工作时).
    work_hours: str = "08:30-12:00,14:30-17:30"
    timezone: str = "Asia/Shanghai"
    #: Yellow warning (黄灯) once this fraction of a stage's time is used.
    warn_fraction: float = Field(0.8, gt=0, lt=1)
    #: 核实/核查 limits are multiplied by this in townships (镇/乡: division code 100–399).
    rural_factor: float = Field(2.0, ge=1)
    max_photo_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    max_photos: int = Field(6, ge=1)
    max_photo_pixels: int = Field(40_000_000, ge=1)
    #: Same place + same category within this many days counts as a repeat (重复案件).
    repeat_days: int = Field(30, ge=1)
    webhook_timeout_s: float = Field(5.0, gt=0)
    webhook_max_attempts: int = Field(5, ge=1)
    webhook_backoff_s: float = Field(30.0, ge=0)


@lru_cache
def get_case_settings() -> CaseSettings:
    return CaseSettings()
