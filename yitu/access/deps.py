"""FastAPI dependencies: the platform, the caller, permission checks and scoped sessions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from fastapi import Request
from fastapi.security import HTTPBearer
from sqlalchemy.orm import Session

from yitu.access.auth import authenticate, cached_principal
from yitu.access.principal import Principal
from yitu.access.roles import Permission
from yitu.access.scope import SCOPE_KEY, Scope
from yitu.audit.chain import Change
from yitu.core.errors import ForbiddenError, UnauthenticatedError
from yitu.runtime import Platform

# Reachable while a one-time password is still set: change it, look at yourself, leave.
_PASSWORD_CHANGE_PATHS = {"/api/v1/auth/password", "/api/v1/auth/me", "/api/v1/auth/logout"}


# Trivial dependencies are async: a sync one costs a thread-pool hop on every request.
async def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (what ``HTTPBearer`` reads)."""
    for name, value in request.scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


async def _principal(request: Request) -> Principal:
    token = _bearer_token(request)
    if token is None:
        raise UnauthenticatedError("missing bearer token: log in at POST /api/v1/auth/login")
    platform: Platform = request.app.state.platform
    ip = client_ip(request)
    # A cached principal is a dict lookup: no thread hop for it, even on PostgreSQL.
    principal = cached_principal(platform, token, ip)
    if principal is None:
        principal = await platform.call(authenticate, platform, token, ip)
    if principal.must_change_password and request.url.path not in _PASSWORD_CHANGE_PATHS:
        raise ForbiddenError("one-time password: change it first at POST /api/v1/auth/password")
    return principal


async def authorize(request: Request, permission: Permission) -> Principal:
    """``requires(permission)`` called from an endpoint's body: for the hottest endpoint, which
    skips FastAPI's dependency machinery (it must then declare ``BEARER_SECURITY`` in its
    OpenAPI itself)."""
    principal = await _principal(request)
    principal.require(permission)
    return principal


# The OpenAPI security requirement of an endpoint that calls ``authorize`` itself.
BEARER_SECURITY: list[dict[str, list[str]]] = [{"HTTPBearer": []}]


class _Authenticated(HTTPBearer):
    """The caller, resolved from the bearer token, optionally holding one permission.

    One FastAPI dependency that reads the header itself: layered on ``HTTPBearer`` (a
    dependency of a dependency) every level costs FastAPI's parameter, header and cookie work
    per request. Being an ``HTTPBearer`` (a ``SecurityBase``), it still declares the bearer
    scheme in OpenAPI for every endpoint that uses it."""

    def __init__(self, permission: Permission | None) -> None:
        super().__init__(
            auto_error=False,
            scheme_name="HTTPBearer",
            description="session token from POST /api/v1/auth/login",
        )
        self.permission = permission

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        principal = await _principal(request)
        if self.permission is not None:
            principal.require(self.permission)
        return principal


current_principal = _Authenticated(None)


def requires(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """The caller, refused with 403 unless their role holds ``permission``."""
    return _Authenticated(permission)


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
