"""Signed, expiring download URLs: meetbox's equivalent of the seed's SAS URLs.

``/downloads/<userId>/<roomId>/<recordingId>/<fileName>?expires=<unix>&signature=<hex>``
where the signature is HMAC-SHA256 over the method, the path and the expiry with a key
derived from the API secret for this purpose. Nothing is stored: the URL carries its
permission and stops working when it expires or when the file is deleted.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote

from meetbox.errors import PermissionDenied


class UrlSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, path: str, expires: int) -> str:
        message = f"GET\n{path}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def sign(self, parts: list[str], ttl: float, now: float | None = None) -> tuple[str, int]:
        """A signed path+query for the download of ``parts``; returns it and its expiry."""
        path = "/downloads/" + "/".join(quote(p, safe="") for p in parts)
        expires = int((now if now is not None else time.time()) + ttl)
        return f"{path}?expires={expires}&signature={self._mac(path, expires)}", expires

    def check(self, parts: list[str], expires: str, signature: str) -> None:
        raw_path = "/downloads/" + "/".join(quote(p, safe="") for p in parts)
        try:
            when = int(expires)
        except ValueError:
            raise PermissionDenied("the download link is malformed") from None
        if not hmac.compare_digest(self._mac(raw_path, when), signature):
            raise PermissionDenied("the download link's signature does not match")
        if when < time.time():
            raise PermissionDenied("the download link has expired")
