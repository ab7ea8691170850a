"""Keyframe requests to a publisher track are spread out as its room grows.

A real publisher loops a VP8 clip whose first frame is a keyframe of known size and answers
each keyframe request (PLI) by sending it again; real subscribers join through meetbox.
"""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from meetbox.client import Client
from meetbox.loadtest.clip import encode_video
from meetbox.loadtest.cliptrack import ClipTrack, publish_clip
from meetbox.server import EmbeddedServer
from meetbox.sfu.uptrack import UpTrack
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(90)


async def requests_answered(
    up: UpTrack, track: ClipTrack, seconds: float, first_picture: bool = False
) -> int:
    """Ask for a keyframe every 50 ms for ``seconds`` (as subscribers' PLIs would, or
    newcomers with ``first_picture``) and return how many requests reached the publisher."""
    before = track.keyframe_requests
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        up.request_keyframe(first_picture)
        await asyncio.sleep(0.05)  # the asking cadence under test, not a wait
    await asyncio.sleep(0.3)  # the last request's round trip to the publisher
    return track.keyframe_requests - before


async def test_answered_requests_go_at_once_and_a_large_room_spaces_them() -> None:
    clip = encode_video(320, 240, 300_000, 30, seconds=1)
    keyframe_bytes = len(clip.frames[0])
    # aiortc cuts VP8 into packets of at most 1300 bytes, descriptor included
    fewest, most = math.ceil(keyframe_bytes / 1300), math.ceil(keyframe_bytes / 1200)
    # the budget that spaces four subscribers' requests about a second apart
    budget = most * 4 / 1.0
    rtc = {
        "keyframe_request_interval": 0.3,
        "keyframe_request_min_interval": 0.05,
        "keyframe_request_max_interval": 5.0,
        "keyframe_budget_pps": budget,
    }
    async with EmbeddedServer(rtc=rtc) as server:
        publisher = server.client("big", "pub")
        subscribers: list[Client] = []
        try:
            await publisher.connect()
            track = await publish_clip(publisher, clip)
            room = server.room("big")
            assert room is not None
            up = await eventually(lambda: next(iter(room.router.uptracks.values()), None))

            async def join(identity: str) -> None:
                client = server.client("big", identity)
                subscribers.append(client)
                await client.connect()
                await client.wait_for_track(identity="pub", kind="video")

            await join("sub-0")
            await eventually(lambda: up.keyframe_packets > 0, timeout=10)
            assert fewest <= up.keyframe_packets <= most
            # one subscriber: a decoder's requests go at most one per retry time...
            decoder = await requests_answered(up, track, 2.0)
            # counted over the 2 s of asking and the 0.3 s after, plus one request that may
            # still be on its way from before
            assert 2.0 / 0.3 - 1 <= decoder <= (2.0 + 0.3) / 0.3 + 2
            # ...but once a request is answered (the publisher sends its keyframe within a
            # frame) a newcomer's goes without waiting that long
            small = await requests_answered(up, track, 2.0, first_picture=True)
            assert small > 2.0 / 0.3 + 1
            for i in range(1, 4):
                await join(f"sub-{i}")
            spacing = up.keyframe_packets * 4 / budget
            assert 0.5 < spacing < 1.0
            await asyncio.sleep(spacing)  # the last join's request falls out of the spacing
            large = await requests_answered(up, track, 2.5, first_picture=True)
            # four subscribers: one request per spacing reaches the publisher
            assert math.floor(2.5 / spacing) <= large <= math.ceil(2.5 / spacing) + 1
        finally:
            for client in subscribers:
                await client.close()
            await publisher.close()
