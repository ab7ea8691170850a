"""A worker's way to a room another worker holds: the gateway, which knows where each
live room is (its room events relayed; whether a room is held elsewhere)."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

import aiohttp

from meetbox.cluster.status import RELAY_PATH, ROOMS_PATH, SECRET_HEADER

logger = logging.getLogger(__name__)


class Relay:
    """Hands a room event to the gateway, which passes it to the room's worker."""

    def __init__(self, gateway: str, secret: str, worker_id: str) -> None:
        self.gateway = gateway
        self.secret = secret
        self.worker_id = worker_id
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        return self._session

    async def elsewhere(self, room: str) -> bool:
        """Whether another live worker holds ``room`` (asked of the gateway)."""
        try:
            async with self.session.get(
                self.gateway + ROOMS_PATH + quote(room, safe=""),
                headers={SECRET_HEADER: self.secret},
            ) as reply:
                if reply.status != 200:
                    return False
                return bool((await reply.json()).get("worker") != self.worker_id)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
            return False

    async def __call__(self, room: str, event: str, data: dict[str, Any]) -> None:
        body = json.dumps({"room": room, "event": event, "data": data})
        try:
            async with self.session.post(
                self.gateway + RELAY_PATH,
                data=body,
                headers={SECRET_HEADER: self.secret, "Content-Type": "application/json"},
            ) as reply:
                if reply.status not in (200, 404):  # 404: the room is not live anywhere
                    logger.warning("relaying %s to room %s: HTTP %s", event, room, reply.status)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            logger.warning("relaying %s to room %s failed: %s", event, room, exc)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
