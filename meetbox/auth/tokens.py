"""Room access tokens: JWTs (HS256 over the API secret) with LiveKit's claim layout.

A token minted by a LiveKit server SDK with a meetbox API key and secret works here:
``iss`` is the API key, ``sub`` the identity, and the ``video`` claim holds the grant.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import jwt

from meetbox.errors import InvalidArgument, Unauthenticated
from meetbox.text import check_text

ALGORITHM = "HS256"
SOURCES = ("camera", "microphone", "screen_share", "screen_share_audio")
MAX_TOKEN_BYTES = 8192
MAX_NAME = 256
MAX_ROOM = 256
# the longest a token may live: an exp further ahead is refused (LiveKit's default is 6 h)
MAX_LIFETIME = 366 * 86400

_BOOL_FIELDS = {
    "roomJoin": "room_join",
    "roomAdmin": "room_admin",
    "canPublish": "can_publish",
    "canSubscribe": "can_subscribe",
    "canPublishData": "can_publish_data",
    "hidden": "hidden",
    "recorder": "recorder",
}


@dataclass(frozen=True)
class VideoGrant:
    """The ``video`` claim. Unset permissions default as LiveKit's do (allowed)."""

    room: str = ""
    room_join: bool = False
    room_admin: bool = False
    can_publish: bool = True
    can_subscribe: bool = True
    can_publish_data: bool = True
    can_publish_sources: tuple[str, ...] = ()  # empty: every source
    hidden: bool = False
    recorder: bool = False

    def to_claim(self) -> dict[str, Any]:
        claim: dict[str, Any] = {"room": self.room}
        for key, attr in _BOOL_FIELDS.items():
            claim[key] = getattr(self, attr)
        if self.can_publish_sources:
            claim["canPublishSources"] = list(self.can_publish_sources)
        return claim

    @classmethod
    def from_claim(cls, claim: Any) -> VideoGrant:
        if not isinstance(claim, dict):
            raise Unauthenticated("token has no video grant")
        values: dict[str, Any] = {}
        room = claim.get("room", "")
        if not isinstance(room, str) or len(room) > MAX_ROOM:
            raise Unauthenticated(f"token video.room must be a string of at most {MAX_ROOM}")
        try:
            check_text(room, "token video.room")
        except InvalidArgument as exc:
            raise Unauthenticated(exc.message) from None
        values["room"] = room
        for key, attr in _BOOL_FIELDS.items():
            if key in claim and claim[key] is not None:
                if not isinstance(claim[key], bool):
                    raise Unauthenticated(f"token video.{key} must be true or false")
                values[attr] = claim[key]
        sources = claim.get("canPublishSources")
        if sources is not None:
            if not isinstance(sources, list) or not all(s in SOURCES for s in sources):
                raise Unauthenticated(f"token video.canPublishSources must list some of {SOURCES}")
            values["can_publish_sources"] = tuple(sources)
        return cls(**values)

    def may_publish(self, source: str) -> bool:
        return self.can_publish and (
            not self.can_publish_sources or source in self.can_publish_sources
        )


@dataclass(frozen=True)
class AccessClaims:
    api_key: str
    identity: str
    name: str
    metadata: str
    video: VideoGrant
    expires_at: float
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def mint_token(
    api_key: str,
    api_secret: str,
    identity: str,
    video: VideoGrant,
    *,
    name: str = "",
    metadata: str = "",
    ttl: float = 6 * 3600,
    now: float | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """A room access token; ``extra`` adds claims of meetbox's own (a translation
    session's permissions), which LiveKit's SDKs ignore."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": api_key,
        "sub": identity,
        "nbf": issued,
        "exp": issued + int(ttl),
        "video": video.to_claim(),
    }
    if name:
        claims["name"] = name
    if metadata:
        claims["metadata"] = metadata
    for key, value in (extra or {}).items():
        claims.setdefault(key, value)
    return jwt.encode(claims, api_secret, algorithm=ALGORITHM)


class TokenVerifier:
    """Checks signature, algorithm, time window and claim shapes."""

    def __init__(self, keys: dict[str, str], leeway: float = 0.0) -> None:
        self._keys = dict(keys)
        self._leeway = leeway

    def verify(self, token: Any) -> AccessClaims:
        if not isinstance(token, str) or not token:
            raise Unauthenticated("an access token is required")
        if len(token) > MAX_TOKEN_BYTES:
            raise Unauthenticated("access token is too long")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Unauthenticated("access token is malformed") from None
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated(
                f"access token algorithm {header.get('alg')!r} is not accepted; use HS256"
            )
        api_key = unverified.get("iss")
        secret = self._keys.get(api_key) if isinstance(api_key, str) else None
        if secret is None or not isinstance(api_key, str):
            raise Unauthenticated("access token was issued for an unknown API key")
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "iss", "sub"]},
                leeway=self._leeway,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("access token has expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("access token is not valid yet (nbf is in the future)") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("access token signature is invalid") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthenticated(f"access token has no {exc.claim!r} claim") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"access token is invalid: {exc}") from None
        self._check_times(claims)
        identity = claims.get("sub")
        if not isinstance(identity, str) or not identity or len(identity) > 256:
            raise Unauthenticated("access token identity (sub) must be a non-empty string")
        name = claims.get("name", "") or ""
        metadata = claims.get("metadata", "") or ""
        if not isinstance(name, str) or not isinstance(metadata, str):
            raise Unauthenticated("access token name and metadata must be strings")
        if len(name) > MAX_NAME:
            raise Unauthenticated(f"access token name must be at most {MAX_NAME} characters")
        try:
            check_text(identity, "access token identity (sub)")
            check_text(name, "access token name")
            check_text(metadata, "access token metadata", text=True)
        except InvalidArgument as exc:
            raise Unauthenticated(exc.message) from None
        return AccessClaims(
            api_key=api_key,
            identity=identity,
            name=name,
            metadata=metadata,
            video=VideoGrant.from_claim(claims.get("video")),
            expires_at=float(claims["exp"]),
            raw=claims,
        )

    @staticmethod
    def _check_times(claims: dict[str, Any]) -> None:
        """``exp`` and ``nbf`` are numbers, and ``exp`` is within a year of now."""
        for claim in ("exp", "nbf", "iat"):
            value = claims.get(claim)
            if claim != "exp" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise Unauthenticated(f"access token {claim} must be a number of seconds")
        if claims["exp"] > time.time() + MAX_LIFETIME:
            raise Unauthenticated(
                f"access token expires too far ahead (at most {MAX_LIFETIME // 86400} days)"
            )

    def verify_for_room(self, token: Any, room: str | None = None) -> AccessClaims:
        """A token that lets its holder join ``room`` (or the room it names)."""
        claims = self.verify(token)
        if not claims.video.room_join:
            raise Unauthenticated("access token does not grant roomJoin")
        if not claims.video.room:
            raise Unauthenticated("access token names no room")
        if room is not None and room != claims.video.room:
            raise Unauthenticated(f"access token is for room {claims.video.room!r}, not {room!r}")
        return claims
