"""Access tables: jurisdiction nodes, users, their scopes and login sessions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from yitu.core.db import Base, UtcDateTime


class Level(StrEnum):
    COUNTY = "county"  # 县/县级市
    TOWN = "town"  # 乡镇/街道
    VILLAGE = "village"  # 村/社区
    GRID = "grid"  # 网格


LEVEL_DEPTH = {Level.COUNTY: 0, Level.TOWN: 1, Level.VILLAGE: 2, Level.GRID: 3}


class JurisdictionNode(Base):
    """A place in the tree county > town/street > village/community > grid.

    ``code`` is the 12-digit statistical division code (统计用区划代码) for the first three levels;
    a grid extends its village's code with a 3-digit serial. ``path`` is the chain of codes from the
    root ("420682000000/420682001000/…/"), so a subtree is one prefix match.
    """

    __tablename__ = "jurisdiction_nodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdiction_nodes.id"), index=True)
    path: Mapped[str] = mapped_column(String(400), index=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    # One role per account: that alone keeps the three admin roles in separate hands.
    role: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    scopes: Mapped[list[UserScope]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )


class UserScope(Base):
    """A jurisdiction node a user works in; the user sees everything inside it."""

    __tablename__ = "user_scopes"
    __table_args__ = (UniqueConstraint("user_id", "node_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction_nodes.id"))

    user: Mapped[User] = relationship(back_populates="scopes")
    node: Mapped[JurisdictionNode] = relationship()


class AuthSession(Base):
    """A revocable login session. Only the SHA-256 of the bearer token is stored."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    client_ip: Mapped[str] = mapped_column(String(64), default="")
