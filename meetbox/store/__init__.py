"""Persistence: repositories behind one protocol, on SQLite (default) or MongoDB."""

from __future__ import annotations

from pathlib import Path

from meetbox.config import StoreSettings
from meetbox.store.base import (
    Collection,
    Document,
    Group,
    Store,
    is_id,
    iso,
    new_id,
    now_iso,
)

__all__ = [
    "Collection",
    "Document",
    "Group",
    "Store",
    "is_id",
    "iso",
    "new_id",
    "now_iso",
    "open_store",
]

SQLITE_FILE = "meetbox.db"


def open_store(settings: StoreSettings, data_dir: Path) -> Store:
    """The configured store, not yet opened (``await store.open()`` creates the schema)."""
    if settings.mongodb_uri:
        from meetbox.store.mongo import MongoStore

        return MongoStore(settings.mongodb_uri, settings.mongodb_database, settings.timeout)
    from meetbox.store.sqlite import SqliteStore

    path = settings.sqlite_path
    if str(path) in ("", "."):
        path = data_dir / SQLITE_FILE
    return SqliteStore(path, settings.timeout)
