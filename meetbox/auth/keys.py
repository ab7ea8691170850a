"""The API key and secret: from config, or generated once into the data directory."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from meetbox.config import KeySettings

KEY_FILE = "keys.json"


@dataclass(frozen=True)
class ApiKeys:
    api_key: str
    api_secret: str
    created: bool = False  # generated just now: the caller shows it once

    def as_map(self) -> dict[str, str]:
        return {self.api_key: self.api_secret}


def load_or_create_keys(data_dir: Path, configured: KeySettings) -> ApiKeys:
    """Keys from config win; else the data directory's key file (0600), made if absent."""
    if configured.api_key:
        return ApiKeys(configured.api_key, configured.api_secret)
    path = data_dir / KEY_FILE
    if path.exists():
        try:
            data = json.loads(path.read_text())
            return ApiKeys(str(data["api_key"]), str(data["api_secret"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"key file {path} is unreadable: {exc}") from exc
    data_dir.mkdir(parents=True, exist_ok=True)
    keys = ApiKeys("API" + secrets.token_hex(6), secrets.token_urlsafe(32), created=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"api_key": keys.api_key, "api_secret": keys.api_secret}, fh)
    return keys


def derive_key(secret: str, purpose: str) -> bytes:
    """One key per purpose from the API secret, so no token can pass for another kind."""
    return hmac.new(secret.encode(), f"meetbox/{purpose}".encode(), hashlib.sha256).digest()
