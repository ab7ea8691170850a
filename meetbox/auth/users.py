"""Who is calling: user JWTs and room tokens, read from a request's Authorization header.

A request may carry ``Authorization: Bearer <token>`` with either a user JWT issued by
``POST /auth/login`` or a room access token (the LiveKit-layout JWT the SFU accepts). The
two cannot be confused: user JWTs are signed with a key derived from the API secret for
that purpose alone and carry ``aud = meetbox:user``; room tokens are signed with the API
secret itself and are checked by the signalling layer's verifier, room included.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from meetbox.auth.keys import derive_key
from meetbox.auth.tokens import AccessClaims, TokenVerifier
from meetbox.errors import PermissionDenied, Unauthenticated

USER_AUDIENCE = "meetbox:user"
ISSUER = "meetbox"


@dataclass(frozen=True)
class User:
    id: str
    role: str
    email: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Caller:
    """The verified principal of one request: a user, a room-token holder, or nobody."""

    user: User | None = None
    room: AccessClaims | None = None
    address: str = ""

    @property
    def key(self) -> str:
        """What rate limits count by."""
        if self.user is not None:
            return f"user:{self.user.id}"
        if self.room is not None:
            return f"room:{self.room.video.room}:{self.room.identity}"
        return f"ip:{self.address}"

    def require_user(self) -> User:
        if self.user is None:
            raise Unauthenticated("sign in: send Authorization: Bearer <token from /auth/login>")
        return self.user

    def require_admin(self) -> User:
        user = self.require_user()
        if not user.is_admin:
            raise PermissionDenied("this needs the admin role")
        return user

    def require_self_or_admin(self, user_id: str) -> User:
        user = self.require_user()
        if user.id != user_id and not user.is_admin:
            raise PermissionDenied("you can only act on your own account's resources")
        return user


class Authenticator:
    def __init__(self, api_secret: str, verifier: TokenVerifier, user_token_ttl: float) -> None:
        self._user_key = derive_key(api_secret, "user-token")
        self.speech_key = derive_key(api_secret, "speech-token")
        self.verifier = verifier
        self.user_token_ttl = user_token_ttl

    def issue_user_token(self, user: User) -> tuple[str, int]:
        now = int(time.time())
        expires = now + int(self.user_token_ttl)
        claims = {
            "iss": ISSUER,
            "aud": USER_AUDIENCE,
            "sub": user.id,
            "role": user.role,
            "email": user.email,
            "iat": now,
            "exp": expires,
        }
        return jwt.encode(claims, self._user_key, algorithm="HS256"), expires

    def caller(self, authorization: str | None, address: str) -> Caller:
        if not authorization:
            return Caller(address=address)
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("Authorization must be 'Bearer <token>'")
        if len(token) > 8192:
            raise Unauthenticated("token is too long")
        user = self._user(token)
        if user is not None:
            return Caller(user=user, address=address)
        try:
            claims = self.verifier.verify(token)
        except Exception:
            raise Unauthenticated("the token is invalid or expired") from None
        return Caller(room=claims, address=address)

    def _user(self, token: str) -> User | None:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._user_key,
                algorithms=["HS256"],
                audience=USER_AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired: sign in again") from None
        except jwt.PyJWTError:
            return None
        role = claims.get("role")
        if role not in ("user", "admin") or not isinstance(claims.get("sub"), str):
            return None
        return User(id=claims["sub"], role=role, email=str(claims.get("email", "")))
