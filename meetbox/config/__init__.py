"""Typed settings: defaults < TOML file < ``MEETBOX_*`` environment, read once at start."""

from meetbox.config.settings import (
    KeySettings,
    RoomSettings,
    RtcSettings,
    ServerSettings,
    Settings,
    load_settings,
)

__all__ = [
    "KeySettings",
    "RoomSettings",
    "RtcSettings",
    "ServerSettings",
    "Settings",
    "load_settings",
]
