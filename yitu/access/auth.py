"""Login, sessions, lockout (等保 8.1.4.1(b): limit failed logins, log out idle sessions)."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, event, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from yitu.access.models import AuthSession, User, UserScope
from yitu.access.passwords import verify_password
from yitu.access.principal import Principal
from yitu.access.roles import Role
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED, _on_invalidate, resolve_scope
from yitu.audit.chain import Actor, Entry
from yitu.core.clock import as_utc
from yitu.core.errors import LockedError, UnauthenticatedError
from yitu.runtime import Platform

# last_seen_at is written at most this often, so a busy client does not write on every request.
TOUCH_INTERVAL = timedelta(seconds=60)


_SESSION_LOOKUP = (
    select(
        AuthSession.id,
        AuthSession.revoked_at,
        AuthSession.last_seen_at,
        AuthSession.expires_at,
        User.id,
        User.username,
        User.role,
        User.active,
        User.must_change_password,
    )
    .join(User, User.id == AuthSession.user_id)
    .where(AuthSession.token_hash == bindparam("token_hash"))
)
# Resolved principals, per database and token hash, for PRINCIPAL_CACHE_SECONDS. An entry is
# used only while the session is neither idle-expired, expired, nor due for its last_seen_at
# touch (TOUCH_INTERVAL); otherwise the full check runs. Any change in this process to users,
# their scopes or sessions (logout, revoke, disable, grant change, password change, unlock)
# clears the cache at commit, so a revoked token stops working at once in this process; a
# revocation made by another process (the CLI, another worker) takes up to
# PRINCIPAL_CACHE_SECONDS.
PRINCIPAL_CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class _Cached:
    at: float  # time.monotonic() when resolved
    principal: Principal
    last_seen: datetime
    expires_at: datetime


_principals: dict[tuple[str, str], _Cached] = {}
_generation = 0  # bumped on every invalidation: a lookup that raced one is not cached
_invalidate_lock = threading.Lock()
_ACCESS_TABLES = frozenset({"users", "user_scopes", "auth_sessions"})
_DIRTY = "yitu.auth_dirty"


def invalidate_principals() -> None:
    """Forget every cached principal (called on any change to users, scopes or sessions)."""
    global _generation
    with _invalidate_lock:
        _generation += 1
        _principals.clear()


_on_invalidate.append(invalidate_principals)  # a new node may fall inside a cached scope


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_change(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete or state.is_insert) and _touches_access(state):
        state.session.info[_DIRTY] = True
        invalidate_principals()


def _touches_access(state: ORMExecuteState) -> bool:
    table = getattr(state.statement, "table", None)
    return getattr(table, "name", None) in _ACCESS_TABLES


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _ctx: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if getattr(obj, "__tablename__", None) in _ACCESS_TABLES:
            session.info[_DIRTY] = True
            invalidate_principals()
            return


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _after_end(session: Session, *_args: Any) -> None:
    # Cleared again once the change is visible, so no request re-cached the old state meanwhile.
    if session.info.pop(_DIRTY, False):
        invalidate_principals()


_SCOPE_ROOTS = select(UserScope.node_id).where(UserScope.user_id == bindparam("user_id"))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class LoginResult:
    token: str
    user_id: int
    username: str
    role: str | None
    must_change_password: bool
    expires_in_idle_seconds: int


def login(platform: Platform, username: str, password: str, client_ip: str) -> LoginResult:
    settings, now = platform.settings, platform.clock.now()
    outcome, detail, result, user_id, role = "failed", "wrong username or password", None, None, ""
    # The failure counter, the lock, the new session and the audit record commit together.
    with platform.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change:
        session = change.session
        user = session.scalar(select(User).where(User.username == username))
        if user is not None:
            user_id, role = user.id, user.role or ""
        if user is not None and user.locked_until and as_utc(user.locked_until) > now:
            verify_password(None, password)  # same work as a real check: timing reveals nothing
            outcome, detail = "locked", f"locked until {as_utc(user.locked_until).isoformat()}"
        elif user is None or not verify_password(user.password_hash, password):
            if user is not None:
                user.failed_logins += 1
                if user.failed_logins >= settings.lockout_threshold:
                    user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
                    user.failed_logins = 0
                    outcome, detail = (
                        "locked",
                        f"locked after {settings.lockout_threshold} failures",
                    )
        elif not user.active:
            outcome, detail = "failed", "account disabled"
        else:
            user.failed_logins, user.locked_until = 0, None
            token = secrets.token_urlsafe(32)
            session.add(
                AuthSession(
                    token_hash=hash_token(token),
                    user_id=user.id,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + timedelta(hours=settings.session_max_hours),
                    client_ip=client_ip,
                )
            )
            outcome = "ok"
            result = LoginResult(
                token,
                user.id,
                user.username,
                user.role,
                user.must_change_password,
                settings.session_idle_minutes * 60,
            )
        actor = Actor(user_id=user_id, username=username[:64], role=role, client_ip=client_ip)
        if result is not None:
            change.record(Entry("login", actor))
        else:
            change.record(Entry("login_failed", actor, success=False, detail=detail))
    if result is not None:
        return result
    if outcome == "locked":
        raise LockedError(
            f"account is locked for {settings.lockout_minutes} minutes after "
            f"{settings.lockout_threshold} failed logins"
        )
    raise UnauthenticatedError("wrong username or password, or the account is disabled")


def cached_principal(platform: Platform, token: str, client_ip: str) -> Principal | None:
    """The principal of ``token`` if a fresh cache entry answers for it (see
    ``PRINCIPAL_CACHE_SECONDS``), else None: then ``authenticate`` must run. No database work,
    so callers run it inline on the event loop."""
    now = platform.clock.now()
    hit = _principals.get((platform.db.url, hash_token(token)))
    if (
        hit is None
        or time.monotonic() - hit.at >= PRINCIPAL_CACHE_SECONDS
        or not timedelta(0) <= now - hit.last_seen < TOUCH_INTERVAL
        or now >= hit.expires_at
        or now >= hit.last_seen + platform.settings.session_idle
    ):
        return None
    p = hit.principal
    if p.client_ip == client_ip:
        return p
    return Principal(
        p.user_id, p.username, p.role, p.session_id, p.scope, client_ip, p.must_change_password
    )


def authenticate(platform: Platform, token: str, client_ip: str) -> Principal:
    """Resolve a bearer token to a principal, enforcing revocation, idle and absolute expiry.

    Runs on every request: a fresh cached principal (``cached_principal``) answers without a
    query; otherwise two Core queries on one connection, no ORM session.
    """
    hit = cached_principal(platform, token, client_ip)
    if hit is not None:
        return hit
    settings, now = platform.settings, platform.clock.now()
    token_hash = hash_token(token)
    key = (platform.db.url, token_hash)
    generation, started = _generation, time.monotonic()
    with platform.db.engine.begin() as conn:
        row = conn.execute(_SESSION_LOOKUP, {"token_hash": token_hash}).first()
        if row is None:
            raise UnauthenticatedError("session token is not valid")
        session_id, revoked_at, last_seen, expires_at, user_id, username, role, active, must = row
        if revoked_at is not None:
            raise UnauthenticatedError("session has ended: log in again")
        last_seen = as_utc(last_seen)
        ended = None
        if now >= last_seen + settings.session_idle:
            ended = "idle for too long"
        elif now >= as_utc(expires_at):
            ended = "expired"
        elif not active:
            ended = "ended: account disabled"
        elif now - last_seen >= TOUCH_INTERVAL:
            conn.execute(
                update(AuthSession).where(AuthSession.id == session_id).values(last_seen_at=now)
            )
            last_seen = now
        if ended is None:
            roots = list(conn.scalars(_SCOPE_ROOTS, {"user_id": user_id}))
            scope = resolve_scope(conn, roots)
    if ended is not None:
        actor = Actor(user_id, username, role or "", session_id, client_ip)
        _end_session(platform, session_id, actor, ended, now)
        raise UnauthenticatedError(f"session {ended}: log in again")
    principal = Principal(
        user_id=user_id,
        username=username,
        role=Role(role) if role else None,
        session_id=session_id,
        scope=scope,
        client_ip=client_ip,
        must_change_password=must,
    )
    with _invalidate_lock:
        if generation == _generation:  # no change to access data since the lookup began
            if len(_principals) > 10_000:
                _principals.clear()
            _principals[key] = _Cached(started, principal, last_seen, as_utc(expires_at))
    return principal


class _AlreadyEndedError(Exception):
    """Another request ended the session first: nothing to change or record."""


def _end_session(
    platform: Platform, session_id: int, actor: Actor, reason: str, now: datetime
) -> None:
    """End a session refused for idle or absolute expiry (or a disabled account) and audit it
    in the same transaction. The update is conditional on the session still being open, so of
    concurrent requests presenting the same stale token only one ends it and writes the record."""
    try:
        with platform.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change:
            ended = change.session.execute(
                update(AuthSession)
                .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            if ended.rowcount != 1:  # type: ignore[attr-defined]
                raise _AlreadyEndedError
            change.record(
                Entry(
                    "session_expired",
                    actor,
                    object_type="auth_session",
                    object_ids=[session_id],
                    detail=reason,
                )
            )
    except _AlreadyEndedError:
        pass
    invalidate_principals()


def logout(platform: Platform, principal: Principal) -> None:
    with platform.audit.change(**{SCOPE_KEY: UNRESTRICTED}) as change:
        change.session.execute(
            update(AuthSession)
            .where(AuthSession.id == principal.session_id)
            .values(revoked_at=platform.clock.now())
        )
        change.record(Entry("logout", principal.actor))
    invalidate_principals()
