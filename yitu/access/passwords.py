"""Password hashing (argon2id) and the minimum password policy."""

from __future__ import annotations

import secrets
import string
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from yitu.core.errors import InvalidInputError

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A fixed hash to verify against when the username is unknown, so timing does not reveal
    it; built on first use (an argon2 hash costs ~0.3 s, which every CLI start would pay)."""
    return _hasher.hash("yitu-dummy-password")


MIN_LENGTH = 10


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        verified = _hasher.verify(password_hash or _dummy_hash(), password)
        return verified and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def check_policy(password: str) -> None:
    """等保 8.1.4.1(a): complexity. At least 10 characters with letters and digits."""
    if len(password) < MIN_LENGTH:
        raise InvalidInputError(f"password must be at least {MIN_LENGTH} characters")
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        raise InvalidInputError("password must contain both letters and digits")


def generate_password() -> str:
    """A one-time password that satisfies the policy."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(16))
        if any(c.isdigit() for c in candidate) and any(c.isalpha() for c in candidate):
            return candidate
