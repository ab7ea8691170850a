"""How ``meetbox serve`` runs: one process, or the gateway and its workers
(``--workers``, ``--redis``); and one worker process of those: a whole meetbox server (its
rooms, their media on its own UDP ports, the REST API) on a loopback port of its own,
which tells its supervisor where it listens. SIGINT stops; SIGTERM drains first."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from meetbox import __version__
from meetbox.cluster.status import READY
from meetbox.config import Settings
from meetbox.runtime import freeze_startup_objects

logger = logging.getLogger(__name__)


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


async def serve(settings: Settings, say: Callable[[str], None]) -> None:
    """``meetbox serve``: one process."""
    from meetbox.app import MeetboxServer

    stop, draining = _signal_events()
    server = MeetboxServer(settings)
    if server.keys.created:
        say("meetbox generated an API key and secret (shown once; kept in the data directory):")
        say(f"  API key:    {server.keys.api_key}")
        say(f"  API secret: {server.keys.api_secret}")
    await server.start()
    freeze_startup_objects()
    say(f"meetbox {__version__} listening on {server.url} (data in {settings.server.data_dir})")
    say("  a token:  meetbox token --room demo --identity alice")
    say(f"  then open {server.url}/r/demo?token=<the token>")
    say(f"  REST API docs: {server.url}/docs")
    try:
        await _until_stopped(
            stop, draining, lambda: drain(server, settings.cluster.drain_timeout), say
        )
    finally:
        say("meetbox shutting down")
        await server.close()


async def _until_stopped(
    stop: asyncio.Event,
    draining: asyncio.Event,
    drain: Callable[[], Awaitable[None]],
    say: Callable[[str], None],
) -> None:
    """SIGINT stops now; SIGTERM drains first (no new rooms; the live ones may end)."""
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(draining.wait())]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for wait in waits:
        wait.cancel()
    if draining.is_set() and not stop.is_set():
        say("meetbox draining: no new rooms")
        drained = asyncio.ensure_future(drain())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait([drained, stopped], return_when=asyncio.FIRST_COMPLETED)
        for task in (drained, stopped):
            task.cancel()


async def serve_workers(
    settings: Settings, worker_args: list[str], say: Callable[[str], None]
) -> None:
    """``meetbox serve --workers N`` (or ``--redis``): the gateway and its workers."""
    from meetbox.supervisor import Supervisor

    stop, draining = _signal_events()
    supervisor = Supervisor(settings, worker_args)
    if supervisor.keys.created:
        say("meetbox generated an API key and secret (shown once; kept in the data directory):")
        say(f"  API key:    {supervisor.keys.api_key}")
        say(f"  API secret: {supervisor.keys.api_secret}")
    try:
        try:
            await supervisor.start()
        except (OSError, RuntimeError) as exc:  # the port is taken, a worker did not start
            raise ValueError(f"cannot start: {exc}") from None
        say(
            f"meetbox {__version__} listening on {supervisor.url}: node {supervisor.node},"
            f" {len(supervisor.workers)} workers (data in {settings.server.data_dir})"
        )
        await _until_stopped(stop, draining, supervisor.drain, say)
    finally:
        say("meetbox shutting down")
        await supervisor.close()


def _signal_events() -> tuple[asyncio.Event, asyncio.Event]:
    stop, draining = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGTERM, draining.set)
    return stop, draining
