"""Settings of the map UI, from the environment like the platform's (``YITU_*``, ``.env``)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YITU_", env_file=".env", extra="ignore")

    # A raster basemap as an XYZ URL template (e.g. the county's own tile server,
    # "https://tiles.example.gov.cn/{z}/{x}/{y}.png"). Empty: the generated county is the
    # basemap (a plain background under yitu's own vector layers).
    basemap_url: str = ""
    basemap_attribution: str = ""
    # The public citizen report (no account) per client IP: a burst of this many reports,
    # then this many an hour (a token bucket per address, in process). 0 per hour: no limit.
    citizen_report_burst: int = Field(default=5, ge=1)
    citizen_report_per_hour: float = Field(default=20.0, ge=0)


@lru_cache
def web_settings() -> WebSettings:
    return WebSettings()
