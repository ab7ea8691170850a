"""Two ``meetbox serve`` nodes on one real ``redis-server`` (started by the test): one
deployment. A participant whose signalling lands on the other node joins, publishes and
is seen; REST on the room through the other node reaches it; a node killed with SIGKILL
and its participants are back in a room on the other within 10 s."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiortc.mediastreams import VideoStreamTrack

from meetbox.client import Client, ClientError
from tests.cluster.nodes import Node, RedisServer
from tests.helpers import wait_async

pytestmark = pytest.mark.timeout(240)

GAMMA = "c3" * 12


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = await RedisServer(tmp_path).start()
    try:
        yield server
    finally:
        await server.close()


async def frames(client: Client, identity: str, count: int = 3) -> None:
    remote = await client.wait_for_track(identity=identity, kind="video", timeout=15)
    for _ in range(count):
        await asyncio.wait_for(remote.track.recv(), 10)


async def test_two_nodes_serve_one_deployment(tmp_path: Path, redis: RedisServer) -> None:
    a = await Node(tmp_path, "a", workers=1, redis=redis.url).start()
    b = await Node(tmp_path, "b", workers=1, redis=redis.url).start()
    try:
        # the client's fallback URL stands for a load balancer in front of the nodes
        ann = a.client(GAMMA, "ann", fallback_urls=[b.url])
        cy = b.client(GAMMA, "cy", fallback_urls=[a.url])  # behind a load balancer
        async with ann, cy:
            owner = await b.owner(GAMMA)  # B's gateway knows where A placed the room
            assert owner is not None
            assert owner["worker"] in ("a/0", "b/0")
            assert owner == await a.owner(GAMMA)
            await ann.publish(VideoStreamTrack())
            await cy.publish(VideoStreamTrack())
            await frames(cy, "ann")
            await frames(ann, "cy")
            # REST through either node reaches the room's worker (subtitles need cy to
            # be connected there)
            for node in (a, b):
                path = f"/api/v1.0/rooms/{GAMMA}/start-subtitle/"
                body = {"token": node.token(GAMMA, "cy")}
                async with node.session.post(node.url + path, json=body) as reply:
                    assert reply.status == 200, await reply.text()

            # the node holding the room dies; its participants come back on the other
            holder, other = (a, b) if owner["worker"] == "a/0" else (b, a)
            killed = time.monotonic()
            holder.signal(signal.SIGKILL)
            await ann.wait_for(lambda: ann.reconnects and cy.reconnects, timeout=10)
            await frames(cy, "ann")
            await frames(ann, "cy")
            back = time.monotonic() - killed
            assert back < 10, f"back in {back:.1f} s"
            moved = await other.owner(GAMMA)
            assert moved is not None and moved["worker"] == f"{other.name}/0"
    finally:
        await a.close()
        await b.close()
    assert a.tracebacks() == [] and b.tracebacks() == []


async def test_a_draining_node_hands_new_rooms_to_the_other(
    tmp_path: Path, redis: RedisServer
) -> None:
    a = await Node(tmp_path, "a", workers=1, redis=redis.url).start()
    b = await Node(tmp_path, "b", workers=1, redis=redis.url).start()
    try:
        async with a.client(GAMMA, "ann", reconnect=False) as ann:
            owner = await a.owner(GAMMA)
            assert owner is not None
            holder, other = (a, b) if owner["worker"] == "a/0" else (b, a)
            holder.signal(signal.SIGTERM)

            async def draining() -> bool:
                async with holder.session.get(holder.url + "/readyz") as reply:
                    return reply.status == 503

            await wait_async(draining, timeout=10)
            # the draining node's worker takes no new room: a new one goes to the other node
            delta = "e5" * 12

            async def placed_on_other() -> bool:
                try:
                    async with other.client(delta, "bob", reconnect=False):
                        found = await other.owner(delta)
                        return found is not None and found["worker"] == f"{other.name}/0"
                except ClientError:
                    return False  # the draining worker's heartbeat said so a moment later

            await wait_async(placed_on_other, timeout=10)
            assert ann.connected  # the live room on the draining node goes on
        assert await holder.wait(timeout=30) == 0  # its last room ended: it stopped
    finally:
        await a.close()
        await b.close()
    assert a.tracebacks() == [] and b.tracebacks() == []
