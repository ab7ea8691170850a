"""How fast a subscriber gets another simulcast layer once its tile changes size: a
viewer whose tile goes from small to large and back, timed from the ``track_settings`` it
sends to the new layer's first keyframe it receives (the width in the VP8 keyframe
header tells the layer)."""

from __future__ import annotations

import asyncio
import time

from meetbox.auth.tokens import VideoGrant, mint_token
from meetbox.client import Client
from meetbox.loadtest.clip import Clip
from meetbox.loadtest.simulcast import SimulcastPublisher
from meetbox.media.keyframe import keyframe_size
from meetbox.media.rtp import RtpHeader

SWITCH_TIMEOUT = 5.0  # seconds a switch may take before it counts as this long
DWELL = 1.5  # seconds a tile keeps its size between switches (dynacast pauses the other)


class KeyframeSink:
    """A subscriber's decrypted RTP (a :class:`meetbox.client.RtpSink`): the width of
    each VP8 keyframe, as it comes."""

    def __init__(self) -> None:
        self.payload_kinds: dict[int, str] = {}
        self.keyframes: list[tuple[float, int]] = []  # (monotonic time, width)
        self.arrived = asyncio.Event()

    def add(self, data: bytes, arrival_ms: int) -> None:
        if len(data) < 12 or self.payload_kinds.get(data[1] & 0x7F) != "video":
            return
        try:
            header = RtpHeader.parse(data)
        except ValueError:
            return
        size = keyframe_size("video/vp8", data[header.payload_start : header.payload_end])
        if size is not None:
            self.keyframes.append((time.monotonic(), size[0]))
            self.arrived.set()

    def widths(self, since: float = 0.0) -> set[int]:
        return {width for at, width in self.keyframes if at >= since}

    async def wait_width(self, width: int, since: float, timeout: float) -> float | None:
        """When the first keyframe ``width`` wide came after ``since``; None: not in time."""
        deadline = time.monotonic() + timeout
        while True:
            for at, seen in self.keyframes:
                if at >= since and seen == width:
                    return at
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.arrived.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self.arrived.wait()
            except TimeoutError:
                return None


async def layer_switches(
    url: str, key: str, secret: str, room: str, layers: list[tuple[str, Clip]], switches: int
) -> list[float]:
    """A simulcast publisher of ``layers`` (smallest first) and a viewer whose tile goes
    from the smallest layer's size to the largest's and back, ``switches`` times: the ms
    each switch took (``SWITCH_TIMEOUT`` for one that did not come in time)."""

    def token(identity: str) -> str:
        grant = VideoGrant(room=room, room_join=True, can_publish=True, can_subscribe=True)
        return mint_token(key, secret, identity, grant, ttl=600)

    small, large = _size(layers[0][1]), _size(layers[-1][1])
    publisher = Client(url, token("switch-publisher"), room=room)
    sink = KeyframeSink()
    viewer = Client(url, token("switch-viewer"), room=room, rtp_sink=sink)
    simulcast = SimulcastPublisher(layers)
    times: list[float] = []
    try:
        await publisher.connect(timeout=30)
        sid = await simulcast.publish(publisher)
        await viewer.connect(timeout=30)
        await viewer.wait_for(lambda: sid in viewer.remote, timeout=30)

        async def show(size: tuple[int, int]) -> float:
            sent = time.monotonic()
            await viewer.send(
                "track_settings", {"track_sid": sid, "width": size[0], "height": size[1]}
            )
            return sent

        await sink.wait_width(small[0], await show(small), 15)
        for i in range(switches):
            size = large if i % 2 == 0 else small
            await asyncio.sleep(DWELL)  # the tile keeps its size a while, as a person's does
            sent = await show(size)
            at = await sink.wait_width(size[0], sent, SWITCH_TIMEOUT)
            times.append((at - sent) * 1000 if at is not None else SWITCH_TIMEOUT * 1000)
    finally:
        await simulcast.close()
        await viewer.close()
        await publisher.close()
    return times


def _size(clip: Clip) -> tuple[int, int]:
    size = keyframe_size("video/vp8", b"\x10" + clip.frames[0][:10])
    if size is None:
        raise ValueError("the clip does not start with a VP8 keyframe")
    return size
