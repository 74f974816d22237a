"""Domain errors. The API turns each into ``application/problem+json`` (RFC 9457)."""

from __future__ import annotations

from typing import Any


class YituError(Exception):
    """Base of errors whose message is safe to show to the caller (no personal data in it)."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInputError(YituError):
    status = 422
    title = "Invalid input"


class UnauthenticatedError(YituError):
    status = 401
    title = "Not authenticated"


class ForbiddenError(YituError):
    status = 403
    title = "Forbidden"


class NotFoundError(YituError):
    status = 404
    title = "Not found"


class ConflictError(YituError):
    status = 409
    title = "Conflict"


class LockedError(YituError):
    status = 423
    title = "Account locked"
