"""Opaque keyset cursors. A cursor holds only non-personal sort keys (ids, times, codes)."""

from __future__ import annotations

import base64
import json
from typing import Any

from yitu.core.errors import InvalidInputError


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, length: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            "cursor is not valid: pass the next_cursor of a previous page"
        ) from exc
    if not isinstance(values, list) or len(values) != length:
        raise InvalidInputError("cursor does not belong to this sort order")
    return values
