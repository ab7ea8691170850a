"""``meetbox serve --workers 2`` on one box, driven through its one public URL by real
clients (Socket.IO, aiortc peer connections, aiohttp): rooms on different workers, a
participant joining a room another worker holds, REST actions on a live room reaching
the worker that holds it, a worker killed and its participants back in a room, SIGTERM
draining."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from aiortc.mediastreams import VideoStreamTrack
from prometheus_client.parser import text_string_to_metric_families

from meetbox.client import Client, ClientError
from tests.cluster.nodes import Node
from tests.helpers import wait_async

pytestmark = pytest.mark.timeout(240)

ALPHA = "a1" * 12  # rooms named as the REST API's room ids are
BETA = "b2" * 12
PASSWORD = "Passw0rd!x"


async def user_token(node: Node) -> str:
    account = {
        "email": "host@example.com",
        "fName": "Host",
        "lName": "Test",
        "phoneNumber": "923085000453",
        "country": "Nowhere",
        "password": PASSWORD,
    }
    async with node.session.post(node.url + "/auth/register", json=account) as reply:
        assert reply.status == 201, await reply.text()
    login = {"userName": account["email"], "password": PASSWORD}
    async with node.session.post(node.url + "/auth/login", json=login) as reply:
        assert reply.status == 200
        return str((await reply.json())["data"]["token"])


def per_worker(text: str, name: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                worker = sample.labels["worker"]
                values[worker] = values.get(worker, 0.0) + sample.value
    return values


async def frames(client: Client, identity: str, count: int = 3) -> None:
    remote = await client.wait_for_track(identity=identity, kind="video", timeout=15)
    for _ in range(count):
        await asyncio.wait_for(remote.track.recv(), 10)


async def test_rooms_spread_and_reach_their_worker(box: Node) -> None:
    async with (
        box.client(ALPHA, "ann", grant={"room_admin": True}) as ann,
        box.client(BETA, "bob") as bob,
    ):
        alpha, beta = await box.owner(ALPHA), await box.owner(BETA)
        assert alpha is not None and beta is not None
        assert alpha["worker"] != beta["worker"], "two rooms on one worker of two"
        await ann.publish(VideoStreamTrack())
        # cy's signalling comes in through the same URL and reaches ALPHA's worker
        async with box.client(ALPHA, "cy") as cy:
            await frames(cy, "ann")
            assert {p["identity"] for p in cy.participants.values()} == {"ann"}
            # a host control (a Socket.IO event) acts on the room's worker
            await cy.publish(VideoStreamTrack())
            reply = await ann.send("mute-participant", {"id": "cy"})
            assert reply["ok"] is True
            await cy.wait_for(lambda: cy.received("mute-participant"))

            # REST on the live room: subtitles (the path names the room)
            path = f"/api/v1.0/rooms/{ALPHA}/start-subtitle/"
            async with box.session.post(
                box.url + path, json={"token": box.token(ALPHA, "cy")}
            ) as r:
                assert r.status == 200, await r.text()
                assert (await r.json())["created"] is True
            # a recording: started by body roomId; stopped by a request that names only
            # the recording, which the least loaded worker (BETA's) sends on with a 421
            user = await user_token(box)
            auth = {"Authorization": f"Bearer {user}"}
            start = {"roomId": ALPHA, "userName": "Host", "streamId": "1", "recordingId": "rec1",
                     "startTime": int(time.time() * 1000), "videoType": "video",
                     "status": "pending"}  # fmt: skip
            async with box.session.post(
                box.url + "/recording/start", json=start, headers=auth
            ) as r:
                assert r.status == 201, await r.text()
                assert (await r.json())["data"]["state"] == "recording"
            await asyncio.sleep(1.5)  # a recording of some length: the file's content
            stop = {"recordingId": "rec1", "streamId": "1", "endTime": int(time.time() * 1000)}
            async with box.session.post(box.url + "/recording/stop", json=stop, headers=auth) as r:
                assert r.status == 204, await r.text()
            async with box.session.get(box.url + "/recordings/list", headers=auth) as r:
                listed = await r.json()
            assert [d["state"] for d in listed] == ["stopped"]
            files = list((box.data_dir / "recordings").rglob("*.webm"))
            assert files and all(f.stat().st_size > 0 for f in files)

            metrics = await box.metrics()
            rooms = per_worker(metrics, "meetbox_rooms")
            assert rooms == {alpha["worker"]: 1.0, beta["worker"]: 1.0}
            people = per_worker(metrics, "meetbox_participants")
            assert people[alpha["worker"]] >= 2 and people[beta["worker"]] == 1
            assert per_worker(metrics, "meetbox_subscribed_tracks")[alpha["worker"]] >= 2
            sent = per_worker(metrics, "meetbox_packets_sent_total")
            assert sent[alpha["worker"]] > 0 and sent[beta["worker"]] == 0
        assert bob.connected and bob.reconnects == 0


async def test_a_killed_worker_s_rooms_come_back_on_a_live_one(box: Node) -> None:
    async with (
        box.client(ALPHA, "ann") as ann,
        box.client(ALPHA, "cy") as cy,
        box.client(BETA, "bob") as bob,
    ):
        await ann.publish(VideoStreamTrack())
        await frames(cy, "ann")
        alpha = await box.owner(ALPHA)
        assert alpha is not None
        killed = time.monotonic()
        import os

        status = await _status(box, alpha["worker"])
        os.kill(status["pid"], signal.SIGKILL)
        await cy.wait_for(lambda: cy.reconnects and ann.reconnects, timeout=10)
        await frames(cy, "ann")
        back = time.monotonic() - killed
        assert back < 10, f"back in {back:.1f} s"
        again = await box.owner(ALPHA)
        assert again is not None
        # the other room never noticed
        assert bob.connected and bob.reconnects == 0
        assert bob.received("disconnected") == []


async def _status(node: Node, worker: str) -> dict[str, Any]:
    from meetbox.cluster.status import SECRET_HEADER, cluster_secret

    owner = await node.owner(ALPHA)
    assert owner is not None and owner["worker"] == worker
    headers = {SECRET_HEADER: cluster_secret(node.keys.api_secret)}
    async with node.session.get(owner["url"] + "/_cluster/status", headers=headers) as reply:
        found: dict[str, Any] = await reply.json()
        return found


async def test_sigterm_drains(box: Node) -> None:
    async with box.client(ALPHA, "ann") as ann:
        box.signal(signal.SIGTERM)

        async def not_ready() -> bool:
            async with box.session.get(box.url + "/readyz") as reply:
                return reply.status == 503

        await wait_async(not_ready, timeout=10)  # the node took the signal

        async def refused() -> ClientError:
            while True:
                try:
                    async with box.client(BETA, "bob", reconnect=False):
                        pass
                except ClientError as exc:
                    # (a worker that drained at once may close the first attempt)
                    if exc.server_code == "unavailable" and "draining" in exc.message:
                        return exc
                await asyncio.sleep(0.2)  # the workers take the signal in turn

        error = await asyncio.wait_for(refused(), 10)
        assert "draining" in error.message
        # the live room goes on: someone may still join it
        async with box.client(ALPHA, "cy", reconnect=False) as cy:
            await cy.wait_for(lambda: cy.participants)
        assert ann.connected
        await ann.leave()
    # its last room ended: the node stops on its own
    assert await box.wait(timeout=30) == 0


async def test_node_limits_refuse_a_join_clearly(tmp_path: Path) -> None:
    node = Node(tmp_path, "small", workers=1, MEETBOX_CLUSTER_MAX_ROOMS="1")
    await node.start()
    try:
        async with node.client(ALPHA, "ann"):
            with pytest.raises(ClientError) as refused:
                async with node.client(BETA, "bob", reconnect=False):
                    pass
            assert refused.value.server_code == "resource_exhausted"
            assert "limit" in refused.value.message
            async with node.client(ALPHA, "cy", reconnect=False):  # the live room still takes joins
                pass
    finally:
        await node.close()
    assert node.tracebacks() == []
