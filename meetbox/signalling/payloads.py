"""Validation of Socket.IO payloads: clear errors, nothing applied on a bad one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from meetbox.errors import InvalidArgument
from meetbox.text import check_text


def as_dict(data: Any, allowed: Iterable[str]) -> dict[str, Any]:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidArgument("payload must be an object")
    allowed = set(allowed)
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise InvalidArgument(f"unknown field(s): {', '.join(unknown)}")
    return data


def string(
    data: dict[str, Any],
    key: str,
    *,
    max_len: int,
    required: bool = True,
    default: str = "",
    text: bool = False,
) -> str:
    """A string field; ``text`` allows tabs and line breaks (messages, SDP)."""
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidArgument(f"{key} is required")
        return default
    if not isinstance(value, str):
        raise InvalidArgument(f"{key} must be a string")
    if required and not value:
        raise InvalidArgument(f"{key} must not be empty")
    if len(value) > max_len:
        raise InvalidArgument(f"{key} must be at most {max_len} characters")
    return check_text(value, key, text=text)


def boolean(
    data: dict[str, Any], key: str, *, required: bool = True, default: bool = False
) -> bool:
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidArgument(f"{key} is required")
        return default
    if not isinstance(value, bool):
        raise InvalidArgument(f"{key} must be true or false")
    return value


def integer(data: dict[str, Any], key: str, *, low: int, high: int, default: int) -> int:
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{key} must be an integer")
    if not low <= value <= high:
        raise InvalidArgument(f"{key} must be between {low} and {high}")
    return value
