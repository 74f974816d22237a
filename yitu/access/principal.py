"""The authenticated caller of one request."""

from __future__ import annotations

from dataclasses import dataclass

from yitu.access.roles import Permission, Role, has_permission
from yitu.access.scope import Scope
from yitu.audit.chain import Actor
from yitu.core.errors import ForbiddenError


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: Role | None
    session_id: int
    scope: Scope
    client_ip: str = ""
    must_change_password: bool = False

    def can(self, permission: Permission) -> bool:
        return has_permission(self.role, permission)

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise ForbiddenError(f"role {self.role or 'none'} lacks permission {permission}")

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.username, self.role or "", self.session_id, self.client_ip)
