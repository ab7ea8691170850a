"""Tracks the server itself publishes (a translation's voice): an up-track with no peer
connection behind it, fed RTP packets made here, 20 ms apart, so that subscribers receive
it over WebRTC like any other track (down-tracks, munging and all)."""

from __future__ import annotations

import asyncio
import logging
import random
import struct
import time
from collections import deque

from meetbox.ids import ParticipantSid, new_track_sid
from meetbox.media.keyframe import KeyframePacing
from meetbox.media.rtp import RtpHeader
from meetbox.sfu.negotiation import Codec
from meetbox.sfu.tasks import cancel_and_wait
from meetbox.sfu.uptrack import UpTrack

logger = logging.getLogger(__name__)

OPUS = Codec(
    payload_type=111, mime_type="audio/opus", clock_rate=48000, channels=2,
    parameters={"minptime": 10, "useinbandfec": 1},
)  # fmt: skip
PTIME = 0.02
SAMPLES = 960  # per 20 ms packet at 48 kHz
MAX_QUEUED = 50 * 120  # two minutes of speech waiting to be played


def synthetic_uptrack(participant_sid: ParticipantSid, source: str, name: str) -> UpTrack:
    """An Opus up-track of the server's own: nothing upstream to send RTCP to."""
    return UpTrack(
        sid=new_track_sid(), participant_sid=participant_sid, kind="audio", source=source,
        name=name, mid=f"server-{name}", codec=OPUS, ssrc=random.randrange(1, 1 << 32),
        rtx_ssrc=None, extensions={}, send_rtcp=lambda data: None,
        rtcp_ssrc=random.randrange(1, 1 << 32),
        keyframe_pacing=KeyframePacing(retry=1.0, min_interval=1.0, max_interval=1.0,
                                       budget_pps=1.0),
    )  # fmt: skip


class SyntheticAudio:
    """Plays Opus packets into an up-track in real time, ``silence`` between them (a
    continuous stream: decoders and jitter buffers see no gaps). Owns its pacing task;
    ``close()`` ends it."""

    def __init__(self, up: UpTrack, silence: bytes) -> None:
        self.up = up
        self.silence = silence
        self.queue: deque[bytes] = deque()
        self.sequence = random.randrange(1 << 16)
        self.timestamp = random.randrange(1 << 32)
        self.closed = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"play {up.sid}")

    def play(self, packets: list[bytes]) -> None:
        if self.closed or not packets:
            return
        if len(self.queue) + len(packets) > MAX_QUEUED:
            logger.warning("track %s: speech arrives faster than it plays; dropped", self.up.sid)
            return
        self.queue.extend(packets)

    def _packet(self, payload: bytes, marker: bool) -> tuple[bytes, RtpHeader]:
        header = struct.pack(
            "!BBHII", 0x80, (0x80 if marker else 0) | OPUS.payload_type,
            self.sequence, self.timestamp, self.up.ssrc or 0,
        )  # fmt: skip
        data = header + payload
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + SAMPLES) & 0xFFFFFFFF
        return data, RtpHeader.parse(data)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        sent = 0
        speaking = False
        while not self.closed:
            due = start + sent * PTIME
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)  # real-time pacing of a live source
            elif delay < -1.0:  # the loop was held up a long time: start over from now
                start, sent = loop.time(), 0
            payload = self.queue.popleft() if self.queue else self.silence
            voiced = payload is not self.silence
            marker = voiced and not speaking  # the first packet of a talkspurt (RFC 3551)
            speaking = voiced
            data, header = self._packet(payload, marker)
            try:
                rest = self.up.on_rtp(data, header, time.monotonic())
                if rest is not None:
                    await rest
            except Exception:
                logger.exception("track %s: forwarding a synthetic packet failed", self.up.sid)
            sent += 1

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        await cancel_and_wait(self._task)
