"""What a client raises when the server refuses."""

from __future__ import annotations

from meetbox.errors import MeetboxError


class ClientError(MeetboxError):
    """An error the server answered with; ``code`` is the server's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.server_code = code

    def __str__(self) -> str:
        return f"{self.server_code}: {self.message}"
