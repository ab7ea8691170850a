"""What a string sent by a client may hold: shared by every layer that reads one."""

from __future__ import annotations

from meetbox.errors import InvalidArgument


def check_text(value: str, key: str, *, text: bool = False) -> str:
    """Refuses lone surrogates (they cannot be stored or sent as UTF-8) and control
    characters: all of them in a name or an id, all but tab and newlines in ``text``."""
    allowed = "\t\n\r" if text else ""
    for ch in value:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            raise InvalidArgument(f"{key} holds an unpaired surrogate (not valid Unicode)")
        if (code < 32 or 0x7F <= code < 0xA0) and ch not in allowed:
            raise InvalidArgument(f"{key} must not contain control characters")
    return value
