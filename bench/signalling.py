"""2. Join time and 4. signalling fan-out beside a bare python-socketio server."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import socketio
from common import (
    HERE,
    LOAD_CPU,
    free_port,
    meetbox_server,
    pinned_server,
)

from meetbox.auth.tokens import VideoGrant, mint_token
from meetbox.client import Client
from meetbox.loadtest.clip import encode_video
from meetbox.loadtest.cliptrack import publish_clip
from meetbox.progress import ProgressBar

# -- 2. join time ---------------------------------------------------------------------------


async def _joins(url: str, key: str, secret: str, count: int = 20) -> list[float]:
    def token(identity: str, publish: bool) -> str:
        grant = VideoGrant(room="join", room_join=True, can_publish=publish)
        return mint_token(key, secret, identity, grant, ttl=600)

    publisher = Client(url, token("publisher", True), room="join")
    await publisher.connect()
    await publish_clip(publisher, encode_video())
    times = []
    bar = ProgressBar(count, "join time")
    for i in range(count):
        started = time.monotonic()
        client = Client(url, token(f"joiner-{i}", False), room="join")
        await client.connect()
        remote = await client.wait_for_track(identity="publisher", kind="video", timeout=15)
        await asyncio.wait_for(remote.track.recv(), 15)  # the first decoded frame
        times.append((time.monotonic() - started) * 1000)
        await client.leave()
        bar.update(i + 1, f"{times[-1]:.0f} ms")
    bar.close()
    await publisher.close()
    return times


def join_time() -> list[float]:
    with meetbox_server() as (url, key, secret, _pid):
        os.sched_setaffinity(0, {LOAD_CPU})
        return asyncio.run(_joins(url, key, secret))


# -- 4. signalling fan-out ----------------------------------------------------------------


async def _fanout(url: str, auth: list[dict[str, str]], senders: int = 20, each: int = 8) -> float:
    clients = [socketio.AsyncClient(reconnection=False) for _ in auth]
    received = [0]
    expected = senders * each * (len(clients) - 1)
    done = asyncio.Event()
    last = [0.0]

    def make_handler() -> Any:
        async def on_chat(data: Any) -> None:
            received[0] += 1
            last[0] = time.monotonic()
            if received[0] >= expected:
                done.set()

        return on_chat

    for client in clients:
        client.on("chat-box", make_handler())
    gate = asyncio.Semaphore(20)

    async def connect(client: socketio.AsyncClient, a: dict[str, str]) -> None:
        async with gate:
            await client.connect(url, auth=a, transports=["websocket"], wait_timeout=30)

    await asyncio.gather(*(connect(c, a) for c, a in zip(clients, auth, strict=True)))
    await asyncio.sleep(1)  # let join announcements settle before the clock starts
    received[0] = 0
    started = time.monotonic()

    async def send(client: socketio.AsyncClient, index: int) -> None:
        for j in range(each):
            await client.emit("chat-box", {"msg": f"message {index}.{j}"})

    await asyncio.gather(*(send(clients[i], i) for i in range(senders)))
    await asyncio.wait_for(done.wait(), 120)
    rate = received[0] / (last[0] - started)
    await asyncio.gather(*(c.disconnect() for c in clients))
    return rate


def fanout(count: int = 200) -> dict[str, float]:
    os.sched_setaffinity(0, {LOAD_CPU})
    with meetbox_server() as (url, key, secret, _pid):
        grant = VideoGrant(room="fanout", room_join=True, can_publish=False)
        auth = [
            {"token": mint_token(key, secret, f"c{i}", grant, ttl=600), "room": "fanout"}
            for i in range(count)
        ]
        meetbox_rate = asyncio.run(_fanout(url, auth))
    port = free_port()
    with pinned_server([sys.executable, str(HERE / "bare_sio.py"), "--port", str(port)], port):
        bare_rate = asyncio.run(_fanout(f"http://127.0.0.1:{port}", [{} for _ in range(count)]))
    return {"meetbox_msgs_per_s": meetbox_rate, "bare_msgs_per_s": bare_rate}
