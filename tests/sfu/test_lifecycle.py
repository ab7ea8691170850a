"""Lifetimes: an abrupt drop, an empty room and a shutdown leave nothing behind."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from meetbox.client import Client
from meetbox.server import EmbeddedServer
from meetbox.tracks import CounterVideoTrack, ToneAudioTrack
from tests.helpers import eventually, read_counters

WATCHED = (f"{os.sep}meetbox{os.sep}", f"{os.sep}aiortc{os.sep}", f"{os.sep}aioice{os.sep}")
# the server's own, for as long as it runs (not a room's): the metrics' loop-lag probe
SERVER_TASKS = {"loop lag"}


def media_tasks() -> list[asyncio.Task[object]]:
    """Tasks running code of meetbox, aiortc or aioice."""
    found = []
    for task in asyncio.all_tasks():
        if task.get_name() in SERVER_TASKS:
            continue
        coro = task.get_coro()
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
        if code is not None and any(part in code.co_filename for part in WATCHED):
            found.append(task)
    return found


def udp_sockets() -> int:
    """UDP sockets this process holds."""
    inodes = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        if Path(table).exists():
            for line in Path(table).read_text().splitlines()[1:]:
                inodes.add(line.split()[9])
    held = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            held += 1
    return held


async def test_abrupt_publisher_drop_ends_tracks_and_leaves_nothing() -> None:
    baseline_udp = udp_sockets()
    async with EmbeddedServer(room={"empty_timeout": 0.5}) as server:
        # a process that dies does not reconnect
        pub = Client(server.url, server.token("drop", "pub"), reconnect=False)
        sub = server.client("drop", "sub")
        await pub.connect()
        await sub.connect()
        await pub.publish(CounterVideoTrack())
        await pub.publish(ToneAudioTrack())
        video = await sub.wait_for_track(identity="pub", kind="video")
        audio = await sub.wait_for_track(identity="pub", kind="audio")
        await read_counters(video.track, 3)

        # the publisher's process "dies": its socket closes without a goodbye and
        # its media stops
        assert pub.sio.eio.ws is not None
        await pub.sio.eio.ws.close()
        assert pub.publisher is not None
        await pub.publisher.close()

        await asyncio.wait_for(video.ended.wait(), 10)
        await asyncio.wait_for(audio.ended.wait(), 10)
        assert video.track.readyState == "ended"
        left = [d for e, d in sub.events if e == "participant_left"]
        assert left and left[0]["reason"] == "disconnected"

        rooms = server.server.signalling.rooms  # type: ignore[union-attr]
        room = rooms.get("drop")
        assert room is not None and not room.router.uptracks
        await sub.close()
        await pub.close()
        # the room closes after its empty-timeout; then nothing of it remains
        await eventually(lambda: rooms.get("drop") is None, timeout=5)
        assert room.closed and not room.participants
        assert not server.server.signalling.participants  # type: ignore[union-attr]
        await eventually(lambda: not media_tasks(), timeout=5)
        await eventually(lambda: udp_sockets() <= baseline_udp, timeout=5)


async def test_server_shutdown_closes_rooms_and_tells_clients() -> None:
    baseline_udp = udp_sockets()
    server = EmbeddedServer()
    await server.start()
    client = server.client("bye", "alice")
    other = server.client("bye", "bob")
    try:
        await client.connect()
        await other.connect()
        await client.publish(CounterVideoTrack())
        await other.wait_for_track(identity="alice", kind="video")
        await server.close()
        await client.wait_for(lambda: client.disconnect_reason == "room_closed")
        await client.wait_for(lambda: not client.connected)
    finally:
        await client.close()
        await other.close()
        await server.close()
    await eventually(lambda: not media_tasks(), timeout=5)
    await eventually(lambda: udp_sockets() <= baseline_udp, timeout=5)


async def test_newer_connection_of_same_identity_replaces_the_older(
    meetbox_server: EmbeddedServer,
) -> None:
    first = meetbox_server.client("dup", "alice")
    second = meetbox_server.client("dup", "alice")
    try:
        await first.connect()
        await second.connect()
        await first.wait_for(lambda: first.disconnect_reason == "duplicate_identity")
        room = meetbox_server.room("dup")
        assert room is not None and len(room.participants) == 1
    finally:
        await first.close()
        await second.close()


REASONS = ["left", "disconnected", "removed", "duplicate_identity", "connection_failed"]


@pytest.mark.parametrize("reason", [*REASONS, "room_closed"])
async def test_every_removal_path_leaves_no_task_socket_or_entry(reason: str) -> None:
    baseline_udp = udp_sockets()
    async with EmbeddedServer(room={"empty_timeout": 30, "removal_ban_seconds": 0}) as server:
        running = server.server
        assert running is not None
        signalling = running.signalling
        host = server.client("paths", "host", room_admin=True)
        eve = server.client("paths", "eve")
        await host.connect()
        await eve.connect()
        await eve.publish(CounterVideoTrack())
        await host.wait_for_track(identity="eve", kind="video")
        room = server.room("paths")
        assert room is not None
        target = room.by_identity("eve")
        connection = target.connection_id
        replacement = None
        if reason == "left":
            await eve.leave()
        elif reason == "disconnected":
            assert eve.sio.eio.ws is not None
            await eve.sio.eio.ws.close()
        elif reason == "removed":
            await host.send("remove-participant", {"id": "eve"})
        elif reason == "duplicate_identity":
            replacement = server.client("paths", "eve")
            await replacement.connect()
        elif reason == "connection_failed":
            await room.remove(target, "connection_failed")
        else:
            await room.close()
        await eventually(lambda: target.closed and connection not in signalling.sessions)
        assert target.sid not in room.participants
        assert connection not in signalling.sessions
        assert room.name not in set(signalling.sio.rooms(connection) or [])
        assert not [t for t in room.router.uptracks.values() if t.participant_sid == target.sid]
        if reason != "room_closed":
            gone = await host.wait_for(
                lambda: [e for e in host.received("participant_left") if e["identity"] == "eve"]
            )
            assert gone[0]["reason"] == reason
        if reason in ("removed", "duplicate_identity", "connection_failed", "room_closed"):
            await eve.wait_for(lambda: eve.disconnect_reason == reason)
        for client in (eve, host, replacement):
            if client is not None:
                await client.close()
        await room.close()
        await eventually(lambda: server.room("paths") is None)
        assert not signalling.sessions
    await eventually(lambda: not media_tasks(), timeout=5)
    await eventually(lambda: udp_sockets() <= baseline_udp, timeout=5)
