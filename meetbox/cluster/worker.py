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
from urllib.parse import quote

import aiohttp

from meetbox.cluster.status import RELAY_PATH, ROOMS_PATH, SECRET_HEADER
from meetbox.config import Settings

logger = logging.getLogger(__name__)

READY = "MEETBOX-WORKER-READY"  # the line a worker prints, with its URL, once it listens


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


async def drain(server: Any, timeout: float) -> None:
    """No new rooms; wait (at most ``timeout`` s) for the live ones to end."""
    signalling = server.signalling
    signalling.draining = True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    logger.info("draining: %d rooms live, at most %.0f s", len(signalling.rooms), timeout)
    while len(signalling.rooms) and loop.time() < deadline:
        for room in list(signalling.rooms):
            if not room.participants:  # an empty room waits for nobody while draining
                await room.close()
        signalling.room_ended.clear()
        with contextlib.suppress(TimeoutError):
            # woken as a room ends; at least once a second to close rooms left empty
            await asyncio.wait_for(signalling.room_ended.wait(), min(1.0, deadline - loop.time()))


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
