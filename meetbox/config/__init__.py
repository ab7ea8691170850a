"""Typed settings: defaults < TOML file < ``MEETBOX_*`` environment, read once at start."""

from meetbox.config.settings import (
    ApiSettings,
    KeySettings,
    RoomSettings,
    RtcSettings,
    ServerSettings,
    Settings,
    SpeechSettings,
    StoreSettings,
    load_settings,
)

__all__ = [
    "ApiSettings",
    "KeySettings",
    "RoomSettings",
    "RtcSettings",
    "ServerSettings",
    "Settings",
    "SpeechSettings",
    "StoreSettings",
    "load_settings",
]
