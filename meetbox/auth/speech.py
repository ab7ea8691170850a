"""Speech tokens: what ``GET /api/get-speech-token`` issues and the speech endpoint checks."""

from __future__ import annotations

import time
from typing import Any

import jwt

from meetbox.errors import PermissionDenied, Unauthenticated

SPEECH_AUDIENCE = "meetbox:speech"
ISSUER = "meetbox"


def issue_speech_token(key: bytes, meeting_id: str, user_id: str, ttl: float) -> tuple[str, int]:
    now = int(time.time())
    expires = now + int(ttl)
    claims = {
        "iss": ISSUER,
        "aud": SPEECH_AUDIENCE,
        "sub": user_id,
        "meetingId": meeting_id,
        "scope": ["speech"],
        "iat": now,
        "exp": expires,
    }
    return jwt.encode(claims, key, algorithm="HS256"), expires


def verify_speech_token(key: bytes, token: str, meeting_id: str) -> dict[str, Any]:
    """What meetbox's speech endpoint checks: signature, audience, expiry and the meeting."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=SPEECH_AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "sub", "aud", "iss", "meetingId"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the speech token has expired") from None
    except jwt.PyJWTError:
        raise Unauthenticated("the speech token is invalid") from None
    if claims.get("meetingId") != meeting_id:
        raise PermissionDenied("this speech token is for another meeting")
    return claims
