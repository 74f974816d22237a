"""Open311 API keys (GeoReport v2: ``api_key`` is required to POST a service request).

The operations centre (市域指挥中心) issues one key per client application (a WeChat mini
program, a partner's 311 app). Only the key's SHA-256 is stored, like login tokens: a leaked
table does not leak working keys. A key is not a user: it carries no jurisdiction and reads
nothing; it only lets its client file reports, which then enter the normal workflow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yitu.access.scope import Jurisdictional
from yitu.core.db import Base, UtcDateTime


class Open311Key(Base):
    __tablename__ = "open311_api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client: Mapped[str] = mapped_column(String(100), unique=True)  # e.g. "老河口市民通 小程序"
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the key
    # realtime: a POST answers with the service_request_id; batch: with a token, for clients
    # built on the spec's token flow (they resolve it at GET /tokens/{token}).
    mode: Mapped[str] = mapped_column(String(8), default="realtime")
    issued_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Open311Request(Jurisdictional, Base):
    """What an Open311 POST carried beyond the case itself: the client's key, the token, the
    media URL, the standard address id and the service-definition attributes. ``node_id`` is
    the case's, so the jurisdiction scope treats it like the case."""

    __tablename__ = "open311_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("open311_api_keys.id"), index=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    media_url: Mapped[str] = mapped_column(String(400), default="")
    address_id: Mapped[int | None] = mapped_column(Integer)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
