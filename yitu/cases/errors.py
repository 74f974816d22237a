"""Field errors in the shape of the API's validation problems (``errors[].field``)."""

from __future__ import annotations

from yitu.core.errors import InvalidInputError


def field_error(field: str, message: str) -> InvalidInputError:
    """A 422 naming ``field``; the message never echoes the value (it may be personal data)."""
    return InvalidInputError(f"{field}: {message}", errors=[{"field": field, "message": message}])
