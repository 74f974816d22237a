"""Account management: what the system admin and the security admin do, and password changes."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from yitu.access.jurisdiction import get_node
from yitu.access.models import AuthSession, User, UserScope
from yitu.access.passwords import check_policy, hash_password, verify_password
from yitu.access.roles import ADMIN_ROLES, Role
from yitu.core.clock import Clock
from yitu.core.errors import ConflictError, InvalidInputError, NotFoundError


def parse_role(value: str | None) -> Role | None:
    if value is None or value == "":
        return None
    try:
        return Role(value)
    except ValueError as exc:
        raise InvalidInputError(
            f"unknown role {value!r}; roles are: {', '.join(r.value for r in Role)}"
        ) from exc


def validate_grants(role: Role | None, scope_codes: list[str]) -> None:
    if role in ADMIN_ROLES and scope_codes:
        raise InvalidInputError("admin roles hold no jurisdiction: they never read business data")
    if role is not None and role not in ADMIN_ROLES and not scope_codes:
        raise InvalidInputError(f"role {role} needs at least one jurisdiction node (scope)")


def create_user(
    session: Session,
    clock: Clock,
    username: str,
    password: str,
    *,
    display_name: str = "",
    role: Role | None = None,
    scope_codes: list[str] | None = None,
    must_change_password: bool = True,
) -> User:
    username = username.strip()
    if (
        not username
        or len(username) > 64
        or not username.replace("_", "").replace(".", "").isalnum()
    ):
        raise InvalidInputError("username must be 1-64 letters, digits, '_' or '.'")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ConflictError(f"user {username} already exists")
    scope_codes = scope_codes or []
    validate_grants(role, scope_codes)
    user = User(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        role=role.value if role else None,
        must_change_password=must_change_password,
        created_at=clock.now(),
        active=True,
        failed_logins=0,
    )
    user.scopes = [UserScope(node_id=get_node(session, code).id) for code in scope_codes]
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} does not exist")
    return user


def set_grants(session: Session, user: User, role: Role | None, scope_codes: list[str]) -> None:
    """Replace a user's role and scopes; their open sessions end so the change applies at once."""
    validate_grants(role, scope_codes)
    nodes = [get_node(session, code) for code in scope_codes]
    user.role = role.value if role else None
    wanted = {n.id for n in nodes}
    # Keep unchanged rows: deleting and re-adding one would collide on (user_id, node_id).
    user.scopes = [s for s in user.scopes if s.node_id in wanted]
    session.flush()
    have = {s.node_id for s in user.scopes}
    user.scopes.extend(UserScope(node_id=node_id) for node_id in sorted(wanted - have))
    session.flush()


def revoke_sessions(session: Session, clock: Clock, user_id: int) -> int:
    result = session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )
    return result.rowcount or 0


def unlock(user: User) -> None:
    user.locked_until = None
    user.failed_logins = 0


def change_password(user: User, current: str, new: str) -> None:
    if not verify_password(user.password_hash, current):
        raise InvalidInputError("current password is wrong")
    if current == new:
        raise InvalidInputError("new password must differ from the current one")
    check_policy(new)
    user.password_hash = hash_password(new)
    user.must_change_password = False


def reset_password(user: User, new: str) -> None:
    """Set a one-time password: the user must change it at the next login."""
    user.password_hash = hash_password(new)
    user.must_change_password = True
    unlock(user)
