"""HTTP API for auth (all users), accounts (system admin), grants (security admin), the tree."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from yitu.access import auth, users
from yitu.access.deps import (
    admin_change,
    admin_session,
    client_ip,
    current_principal,
    get_platform,
    requires,
)
from yitu.access.jurisdiction import get_node
from yitu.access.models import JurisdictionNode, User
from yitu.access.principal import Principal
from yitu.access.roles import Permission
from yitu.access.schemas import (
    GrantsIn,
    LoginIn,
    LoginOut,
    MeOut,
    NodeOut,
    PasswordChange,
    UserCreate,
    UserOut,
    UserPage,
)
from yitu.audit.chain import Entry
from yitu.core.clock import as_utc
from yitu.core.errors import InvalidInputError
from yitu.core.pagination import decode_cursor, encode_cursor
from yitu.runtime import Platform

PlatformDep = Annotated[Platform, Depends(get_platform)]

auth_router = APIRouter(prefix="/auth", tags=["auth"])
users_router = APIRouter(prefix="/users", tags=["users"])
tree_router = APIRouter(prefix="/jurisdictions", tags=["jurisdictions"])


@auth_router.post("/login", response_model=LoginOut, summary="Log in; returns a session token")
def login(body: LoginIn, request: Request, platform: PlatformDep) -> LoginOut:
    result = auth.login(platform, body.username, body.password, client_ip(request))
    return LoginOut(
        token=result.token,
        username=result.username,
        role=result.role,
        must_change_password=result.must_change_password,
        idle_timeout_seconds=result.expires_in_idle_seconds,
    )


@auth_router.post("/logout", status_code=204, summary="End this session")
def logout(
    platform: PlatformDep, principal: Annotated[Principal, Depends(current_principal)]
) -> None:
    auth.logout(platform, principal)


@auth_router.get("/me", response_model=MeOut, summary="Who am I")
def me(principal: Annotated[Principal, Depends(current_principal)]) -> MeOut:
    return MeOut(
        user_id=principal.user_id,
        username=principal.username,
        role=principal.role,
        scope_node_count=len(principal.scope.node_ids),
        must_change_password=principal.must_change_password,
    )


@auth_router.post("/password", status_code=204, summary="Change my password")
def change_password(
    body: PasswordChange,
    platform: PlatformDep,
    principal: Annotated[Principal, Depends(current_principal)],
) -> None:
    with admin_change(platform) as change:
        users.change_password(
            users.get_user(change.session, principal.user_id),
            body.current_password,
            body.new_password,
        )
        change.record(
            Entry(
                "password_change",
                principal.actor,
                object_type="user",
                object_ids=[principal.user_id],
            )
        )


def _user_out(user: User, now_locked: bool) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        scopes=sorted(s.node.code for s in user.scopes),
        active=user.active,
        locked=now_locked,
        must_change_password=user.must_change_password,
    )


def _is_locked(platform: Platform, user: User) -> bool:
    return user.locked_until is not None and as_utc(user.locked_until) > platform.clock.now()


@users_router.get("", response_model=UserPage, summary="List accounts (system admin)")
def list_users(
    platform: PlatformDep,
    _principal: Annotated[Principal, Depends(requires(Permission.USER_MANAGE))],
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> UserPage:
    stmt = select(User).order_by(User.id).limit(limit + 1)
    if cursor:
        (last_id,) = decode_cursor(cursor, 1)
        stmt = stmt.where(User.id > int(last_id))
    with admin_session(platform) as session:
        rows = list(session.scalars(stmt))
        items = [_user_out(u, _is_locked(platform, u)) for u in rows[:limit]]
    next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return UserPage(items=items, next_cursor=next_cursor)


@users_router.post(
    "",
    response_model=UserOut,
    status_code=201,
    summary="Create an account without a role (system admin)",
)
def create_user(
    body: UserCreate,
    platform: PlatformDep,
    principal: Annotated[Principal, Depends(requires(Permission.USER_MANAGE))],
) -> UserOut:
    with admin_change(platform) as change:
        user = users.create_user(
            change.session,
            platform.clock,
            body.username,
            body.password,
            display_name=body.display_name,
        )
        out = _user_out(user, False)
        change.record(Entry("create", principal.actor, object_type="user", object_ids=[out.id]))
    return out


@users_router.post("/{user_id}/disable", response_model=UserOut, summary="Disable (system admin)")
def disable_user(
    user_id: int,
    platform: PlatformDep,
    principal: Annotated[Principal, Depends(requires(Permission.USER_MANAGE))],
) -> UserOut:
    with admin_change(platform) as change:
        user = users.get_user(change.session, user_id)
        if user.id == principal.user_id:
            raise InvalidInputError("you cannot disable your own account")
        user.active = False
        users.revoke_sessions(change.session, platform.clock, user.id)
        out = _user_out(user, _is_locked(platform, user))
        change.record(
            Entry(
                "update",
                principal.actor,
                object_type="user",
                object_ids=[user_id],
                detail="disabled",
            )
        )
    return out


@users_router.put(
    "/{user_id}/grants",
    response_model=UserOut,
    summary="Set role and jurisdiction scopes (security admin)",
)
def set_grants(
    user_id: int,
    body: GrantsIn,
    platform: PlatformDep,
    principal: Annotated[Principal, Depends(requires(Permission.GRANT_MANAGE))],
) -> UserOut:
    role = users.parse_role(body.role)
    with admin_change(platform) as change:
        user = users.get_user(change.session, user_id)
        if user.id == principal.user_id:
            raise InvalidInputError("you cannot change your own grants")
        users.set_grants(change.session, user, role, body.scopes)
        users.revoke_sessions(change.session, platform.clock, user.id)
        out = _user_out(user, _is_locked(platform, user))
        change.record(
            Entry(
                "role_change",
                principal.actor,
                object_type="user",
                object_ids=[user_id],
                detail=f"role={out.role} scopes={out.scopes}",
            )
        )
    return out


@users_router.post("/{user_id}/unlock", response_model=UserOut, summary="Unlock (security admin)")
def unlock_user(
    user_id: int,
    platform: PlatformDep,
    principal: Annotated[Principal, Depends(requires(Permission.GRANT_MANAGE))],
) -> UserOut:
    with admin_change(platform) as change:
        user = users.get_user(change.session, user_id)
        users.unlock(user)
        out = _user_out(user, False)
        change.record(
            Entry(
                "update",
                principal.actor,
                object_type="user",
                object_ids=[user_id],
                detail="unlocked",
            )
        )
    return out


@users_router.post(
    "/{user_id}/revoke-sessions",
    status_code=204,
    summary="End all sessions of a user (security admin)",
)
def revoke_user_sessions(
    user_id: int,
    platform: PlatformDep,
    principal: Annotated[Principal, Depends(requires(Permission.GRANT_MANAGE))],
) -> None:
    with admin_change(platform) as change:
        users.get_user(change.session, user_id)
        count = users.revoke_sessions(change.session, platform.clock, user_id)
        change.record(
            Entry(
                "revoke",
                principal.actor,
                object_type="user",
                object_ids=[user_id],
                detail=f"{count} sessions",
            )
        )


@tree_router.get("", response_model=list[NodeOut], summary="Children of a node (or the roots)")
def list_nodes(
    platform: PlatformDep,
    _principal: Annotated[Principal, Depends(requires(Permission.JURISDICTION_READ))],
    parent: Annotated[str | None, Query(description="parent code; omit for the roots")] = None,
) -> list[NodeOut]:
    with admin_session(platform) as session:
        parent_id = get_node(session, parent).id if parent else None
        stmt = select(JurisdictionNode).where(JurisdictionNode.parent_id == parent_id)
        if parent_id is None:
            stmt = select(JurisdictionNode).where(JurisdictionNode.parent_id.is_(None))
        nodes = session.scalars(stmt.order_by(JurisdictionNode.code))
        return [
            NodeOut(id=n.id, code=n.code, name=n.name, level=n.level, parent_id=n.parent_id)
            for n in nodes
        ]
