"""A client whose connection was lost without the server saying why (its worker or node
died) connects again, to its URL or the next of its fallbacks, joins again and publishes
its tracks again."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from meetbox.client.errors import ClientError

logger = logging.getLogger(__name__)

RECONNECT_FOR = 60.0  # seconds a lost connection is tried again


def detach_tracks(self: Any) -> None:  # a meetbox.client.Client
    """The tracks leave the lost connection's senders (which would stop them as they
    end), to be published again on the next."""
    if self.publisher is not None:
        for transceiver in self.publisher.getTransceivers():
            transceiver.sender.replaceTrack(None)


async def reconnect(self: Any) -> None:  # a meetbox.client.Client
    """Media over again: new peer connections, the same tracks published again."""
    for pc in (self.publisher, self.subscriber):
        if pc is not None:
            await pc.close()
    self.publisher = self.subscriber = None
    self.me = self.room = None
    self.participants.clear()
    self.published.clear()
    self.remote.clear()
    self._mids.clear()
    again = list(self._publishing.values())
    self._publishing.clear()
    self.local.clear()
    delay, deadline = 0.2, time.monotonic() + RECONNECT_FOR
    attempt = 0
    while not self._closing:
        self.url = self.urls[attempt % len(self.urls)]
        attempt += 1
        try:
            await self.connect(timeout=5.0)
            break
        except ClientError as exc:
            if exc.server_code in ("unauthenticated", "permission_denied") or (
                time.monotonic() > deadline
            ):
                logger.warning("could not reconnect: %s", exc)
                return
        await asyncio.sleep(delay)  # back-off between attempts
        delay = min(2.0, delay * 2)
    if self._closing:
        return
    for track, options in again:
        await self.publish(track, **options)
    self.reconnects += 1
    self.events.append(("reconnected", {"url": self.url}))
    await self._notify()
