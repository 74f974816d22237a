"""API shapes for auth, users and the jurisdiction tree."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class LoginOut(BaseModel):
    token: str
    token_type: str = "bearer"
    username: str
    role: str | None
    must_change_password: bool
    idle_timeout_seconds: int


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


class MeOut(BaseModel):
    user_id: int
    username: str
    role: str | None
    scope_node_count: int
    must_change_password: bool


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    display_name: str = Field("", max_length=100)
    password: str = Field(max_length=256, description="one-time: changed at first login")


class GrantsIn(BaseModel):
    role: str | None = Field(description="one role per account; null removes it")
    scopes: list[str] = Field(default_factory=list, description="jurisdiction codes")


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str | None
    scopes: list[str]
    active: bool
    locked: bool
    must_change_password: bool


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


class NodeOut(BaseModel):
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None
