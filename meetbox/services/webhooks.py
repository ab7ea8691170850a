"""Webhooks as LiveKit sends them, so that code written for LiveKit's webhook receiver
accepts meetbox's: a JSON ``WebhookEvent`` (``event``, ``id``, ``createdAt`` and the
``room``, ``participant``, ``track`` or ``egressInfo`` it is about) POSTed to each URL
with ``Content-Type: application/webhook+json`` and an ``Authorization`` JWT signed with
the API key's secret whose ``sha256`` claim is the base64 SHA-256 of the body.

Events queue (never blocking the caller: a full queue drops the event and says so) and
one task per URL posts them in order, retrying with doubling back-off.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt

logger = logging.getLogger(__name__)

EVENTS = (
    "room_started",
    "room_finished",
    "participant_joined",
    "participant_left",
    "track_published",
    "track_unpublished",
    "egress_started",
    "egress_ended",
    # meetbox's own (a LiveKit receiver parses them too: unknown fields are ignored)
    "transcript_ready",
    "summary_ready",
)
TOKEN_TTL = 300  # seconds a webhook's token is valid
FIRST_RETRY = 0.5  # seconds; doubled after each failure


@dataclass(frozen=True)
class WebhookConfig:
    urls: tuple[str, ...]
    api_key: str
    api_secret: str
    timeout: float = 5.0
    attempts: int = 5
    queue_size: int = 1000


def sign(body: bytes, api_key: str, api_secret: str, now: float | None = None) -> str:
    """The ``Authorization`` token of a webhook body (LiveKit's webhook auth)."""
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": api_key,
        "nbf": issued,
        "exp": issued + TOKEN_TTL,
        "sha256": base64.b64encode(hashlib.sha256(body).digest()).decode(),
    }
    return jwt.encode(claims, api_secret, algorithm="HS256")


def event_body(event: str, parts: dict[str, Any], now: float | None = None) -> bytes:
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    created = int(time.time() if now is None else now)
    document = {"event": event, "id": f"EV_{secrets.token_hex(6)}", "createdAt": str(created)}
    document.update({k: v for k, v in parts.items() if v is not None})
    return json.dumps(document, separators=(",", ":")).encode()


class WebhookNotifier:
    """Sends the server's webhooks; ``close()`` delivers what is queued (for a moment)
    and stops. With no URL configured it does nothing."""

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._queues = [asyncio.Queue[bytes](maxsize=config.queue_size) for _ in config.urls]
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self.closed = False

    @property
    def enabled(self) -> bool:
        return bool(self.config.urls) and not self.closed

    def send(self, event: str, **parts: Any) -> None:
        """Queue ``event`` with its parts (``room={...}``, ``participant={...}``, ...)."""
        if not self.enabled:
            return
        body = event_body(event, parts)
        if not self._tasks:
            self._start()
        for url, queue in zip(self.config.urls, self._queues, strict=True):
            try:
                queue.put_nowait(body)
            except asyncio.QueueFull:
                self.dropped += 1
                waiting = queue.qsize()
                logger.warning("webhook %s to %s dropped: %d are waiting", event, url, waiting)

    def _start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        self._session = aiohttp.ClientSession(timeout=timeout)
        self._tasks = [
            asyncio.create_task(self._deliver(url, queue), name=f"webhooks {url}")
            for url, queue in zip(self.config.urls, self._queues, strict=True)
        ]

    async def _deliver(self, url: str, queue: asyncio.Queue[bytes]) -> None:
        while True:
            body = await queue.get()
            try:
                await self._post(url, body)
            finally:
                queue.task_done()

    async def _post(self, url: str, body: bytes) -> None:
        assert self._session is not None
        delay = FIRST_RETRY
        for attempt in range(1, self.config.attempts + 1):
            headers = {
                "Content-Type": "application/webhook+json",
                "Authorization": sign(body, self.config.api_key, self.config.api_secret),
            }
            try:
                async with self._session.post(url, data=body, headers=headers) as response:
                    if response.status < 300:
                        self.sent += 1
                        return
                    reason = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = str(exc) or type(exc).__name__
            if attempt < self.config.attempts:
                logger.info("webhook to %s failed (%s); again in %.1fs", url, reason, delay)
                await asyncio.sleep(delay)  # the back-off between attempts
                delay *= 2
            else:
                self.failed += 1
                logger.warning("webhook to %s failed %d times (%s): given up", url, attempt, reason)

    async def close(self, deadline: float = 2.0) -> None:
        if self.closed:
            return
        self.closed = True
        if self._tasks:
            try:
                async with asyncio.timeout(deadline):
                    await asyncio.gather(*(q.join() for q in self._queues))
            except TimeoutError:
                logger.warning("webhooks still queued at shutdown were not sent")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
