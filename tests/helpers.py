"""Shared helpers for tests: waiting on conditions, reading frames."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote_plus

import av
from aiortc.mediastreams import MediaStreamTrack

from meetbox.tracks import CounterVideoTrack, frame_counter

if TYPE_CHECKING:
    from meetbox.client import Client, RemoteTrack
    from meetbox.server import EmbeddedServer

T = TypeVar("T")


def unreachable_mongodb_uri(folder: Path) -> str:
    """A MongoDB URI nothing answers: a Unix socket in ``folder`` that does not exist.

    Not a refused TCP port: there PyMongo 4.20's monitor, cancelled by ``close()`` while a
    refused connect is still pending, leaks its socket (it closes it on OSError and
    TimeoutError, not on CancelledError), about 1 close in 10, and the garbage collector
    reports it during some later test. A missing socket file fails at once."""
    return f"mongodb://{quote_plus(str(folder / 'mongodb.sock'))}/?directConnection=true"


async def eventually(
    predicate: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.02
) -> T:
    """Poll ``predicate`` until it is truthy, with a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


async def wait_async(predicate: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll an async ``predicate`` until it is true, with a deadline."""
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.1)


async def read_counters(track: MediaStreamTrack, count: int, timeout: float = 10.0) -> list[int]:
    """Decode frames until ``count`` of them show a readable counter."""
    found: list[int] = []

    async def collect() -> None:
        while len(found) < count:
            frame = await track.recv()
            assert isinstance(frame, av.VideoFrame)
            value = frame_counter(frame)
            if value is not None:
                found.append(value)

    await asyncio.wait_for(collect(), timeout)
    return found


@asynccontextmanager
async def streaming(
    server: EmbeddedServer, room: str, frames: int = 5
) -> AsyncIterator[tuple[Client, Client, RemoteTrack, str]]:
    """``pub`` publishing numbered video in ``room`` and ``sub`` having decoded ``frames``
    of it: (pub, sub, sub's remote track, the track's sid)."""
    async with server.client(room, "pub") as pub, server.client(room, "sub") as sub:
        sid = await pub.publish(CounterVideoTrack())
        remote = await sub.wait_for_track(identity="pub", kind="video")
        await read_counters(remote.track, frames)
        yield pub, sub, remote, sid
