"""Where a session came from: an optional MaxMind-format city database, else ``unknown``."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

UNKNOWN = {"city": "unknown", "region": "unknown", "country": "unknown", "country_name": "unknown"}


class GeoLocator:
    def __init__(self, database: Path | None) -> None:
        self._reader: Any = None
        if database is not None and str(database) not in ("", "."):
            import maxminddb

            try:
                self._reader = maxminddb.open_database(str(database))
            except (OSError, ValueError) as exc:
                logger.warning(
                    "GeoIP database %s not usable (%s): locations are unknown", database, exc
                )

    def locate(self, address: str) -> dict[str, str]:
        if self._reader is None or not address:
            return dict(UNKNOWN)
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return dict(UNKNOWN)
        if ip.is_private or ip.is_loopback:
            return dict(UNKNOWN)
        try:
            record = self._reader.get(str(ip)) or {}
        except (ValueError, OSError):
            return dict(UNKNOWN)
        return {
            "city": _name(record.get("city")),
            "region": _name((record.get("subdivisions") or [{}])[0]),
            "country": str((record.get("country") or {}).get("iso_code") or "unknown"),
            "country_name": _name(record.get("country")),
        }

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def _name(entry: Any) -> str:
    if not isinstance(entry, dict):
        return "unknown"
    names = entry.get("names") or {}
    return str(names.get("en") or "unknown")
