"""FastAPI dependencies: the platform, the caller, permission checks and scoped sessions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from yitu.access.auth import authenticate
from yitu.access.principal import Principal
from yitu.access.roles import Permission
from yitu.access.scope import SCOPE_KEY, Scope
from yitu.audit.chain import Change
from yitu.core.errors import ForbiddenError, UnauthenticatedError
from yitu.runtime import Platform

_bearer = HTTPBearer(auto_error=False, description="session token from POST /api/v1/auth/login")

# Reachable while a one-time password is still set: change it, look at yourself, leave.
_PASSWORD_CHANGE_PATHS = {"/api/v1/auth/password", "/api/v1/auth/me", "/api/v1/auth/logout"}


# Trivial dependencies are async: a sync one costs a thread-pool hop on every request.
async def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


async def _principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    if credentials is None:
        raise UnauthenticatedError("missing bearer token: log in at POST /api/v1/auth/login")
    platform: Platform = request.app.state.platform
    principal = await platform.call(
        authenticate, platform, credentials.credentials, client_ip(request)
    )
    if principal.must_change_password and request.url.path not in _PASSWORD_CHANGE_PATHS:
        raise ForbiddenError("one-time password: change it first at POST /api/v1/auth/password")
    return principal


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return await _principal(request, credentials)


def requires(permission: Permission) -> Callable[..., Principal]:
    # Not layered on current_principal: each dependency level costs FastAPI work per request.
    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        principal = await _principal(request, credentials)
        principal.require(permission)
        return principal

    dependency.__name__ = f"requires_{permission.name.lower()}"
    return dependency


@contextmanager
def scoped_session(platform: Platform, principal: Principal) -> Iterator[Session]:
    """A transaction that sees only the principal's jurisdiction."""
    with platform.db.session(**{SCOPE_KEY: principal.scope}) as session:
        yield session


@contextmanager
def scoped_change(platform: Platform, principal: Principal) -> Iterator[Change]:
    """``scoped_session`` for a change: the change and its audit records commit together
    (``AuditLog.change``)."""
    with platform.audit.change(**{SCOPE_KEY: principal.scope}) as change:
        yield change


@contextmanager
def admin_change(platform: Platform) -> Iterator[Change]:
    """``admin_session`` for a change: the change and its audit records commit together."""
    with platform.audit.change(**{SCOPE_KEY: Scope(frozenset())}) as change:
        yield change


@contextmanager
def admin_session(platform: Platform) -> Iterator[Session]:
    """A transaction for admin work: business tables read as empty (admins see no business data)."""
    with platform.db.session(**{SCOPE_KEY: Scope(frozenset())}) as session:
        yield session
