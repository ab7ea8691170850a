"""One worker process of ``serve --workers``: a whole meetbox server (its rooms, their
media on its own UDP ports, the REST API) on a loopback port of its own, which tells its
supervisor where it listens and drains on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from typing import Any

import aiohttp

from meetbox.cluster.status import RELAY_PATH, SECRET_HEADER
from meetbox.config import Settings

logger = logging.getLogger(__name__)

READY = "MEETBOX-WORKER-READY"  # the line a worker prints, with its URL, once it listens


class Relay:
    """Hands a room event to the gateway, which passes it to the room's worker."""

    def __init__(self, gateway: str, secret: str) -> None:
        self.gateway = gateway
        self.secret = secret
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, room: str, event: str, data: dict[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        body = json.dumps({"room": room, "event": event, "data": data})
        try:
            async with self._session.post(
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


async def drain(server: Any, timeout: float) -> None:
    """No new rooms; wait (at most ``timeout`` s) for the live ones to end."""
    signalling = server.signalling
    signalling.draining = True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    logger.info("draining: %d rooms live, at most %.0f s", len(signalling.rooms), timeout)
    while len(signalling.rooms) and loop.time() < deadline:
        signalling.room_ended.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(signalling.room_ended.wait(), deadline - loop.time())


async def run_worker(settings: Settings, worker_id: str, node: str, gateway: str) -> None:
    from meetbox.app import MeetboxServer
    from meetbox.web.cluster_routes import WorkerIdentity

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    draining = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGTERM, draining.set)
    host = settings.cluster.advertise_host or settings.server.host
    server: MeetboxServer | None = None

    def url() -> str:
        assert server is not None
        return f"http://{host}:{server.port}"

    server = MeetboxServer(settings, worker=WorkerIdentity(worker_id, node, url), gateway=gateway)
    await server.start()
    sys.stdout.write(f"{READY} {url()}\n")
    sys.stdout.flush()
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(draining.wait())]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    if draining.is_set() and not stop.is_set():
        await drain(server, settings.cluster.drain_timeout)
    for wait in waits:
        wait.cancel()
    await server.close()
