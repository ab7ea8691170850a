"""One error hierarchy with codes; transports map the code to a status."""

from __future__ import annotations

import traceback
from typing import Any, ClassVar


def origin(exc: BaseException) -> str:
    """``file:line in function`` of where ``exc`` was raised: a log line's pointer, no
    traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name}"


class MeetboxError(Exception):
    """An error a client may see. ``message`` is written for the client."""

    code: ClassVar[str] = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


class Misdirected(MeetboxError):
    """The request is for a live room another worker holds: the gateway sends it there."""

    code = "misdirected"

    def __init__(self, room: str) -> None:
        super().__init__(f"room {room!r} is held by another worker")
        self.room = room


class InvalidArgument(MeetboxError):
    code = "invalid_argument"


class Unauthenticated(MeetboxError):
    code = "unauthenticated"


class PermissionDenied(MeetboxError):
    code = "permission_denied"


class NotFound(MeetboxError):
    code = "not_found"


class AlreadyExists(MeetboxError):
    code = "already_exists"


class ResourceExhausted(MeetboxError):
    code = "resource_exhausted"


class FailedPrecondition(MeetboxError):
    code = "failed_precondition"


class Unavailable(MeetboxError):
    code = "unavailable"


class TooLarge(MeetboxError):
    code = "too_large"
