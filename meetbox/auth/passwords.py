"""Passwords: argon2id hashes (the OWASP first choice), verified off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from meetbox.errors import InvalidArgument

PASSWORD_RULES = (
    "password must be 8 to 128 characters and contain at least one letter and one digit"
)

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (argon2-cffi's default)
# a real hash to verify against when the user does not exist: the same cost either way
_DUMMY_HASH = _hasher.hash("meetbox-timing-equaliser-1")


def check_password_rules(password: str) -> None:
    if not 8 <= len(password) <= 128:
        raise InvalidArgument(PASSWORD_RULES)
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        raise InvalidArgument(PASSWORD_RULES)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)
