"""A track that loops a :class:`Clip`'s encoded frames in real time.

aiortc sends an ``av.Packet`` from ``recv`` by packetising it, without an encoder. A
keyframe request (PLI from the SFU) restarts the loop at its keyframe.
"""

from __future__ import annotations

import fractions

import av
from aiortc import MediaStreamTrack, RTCRtpSender

from meetbox.client import Client
from meetbox.loadtest.clip import Clip
from meetbox.sfu import aiortc as internals
from meetbox.tracks import Pacer


class ClipTrack(MediaStreamTrack):
    def __init__(self, clip: Clip) -> None:
        super().__init__()
        self.kind = clip.kind
        self.clip = clip
        self._paced = Pacer(clip.interval, drop_late=True)
        self._index = 0
        self._time_base = fractions.Fraction(1, clip.clock_rate)
        self._step = round(clip.interval * clip.clock_rate)
        self.keyframe_requests = 0

    def answer_keyframe_requests(self, sender: RTCRtpSender) -> None:
        """aiortc ignores PLI for pre-encoded media; send the loop's keyframe instead."""

        def restart() -> None:
            self.keyframe_requests += 1
            self._index = 0

        internals.answer_keyframe_requests(sender, restart)

    async def recv(self) -> av.Packet:  # type: ignore[type-arg]
        count = await self._paced.next()
        frames = self.clip.frames
        packet = av.Packet(frames[self._index % len(frames)])
        self._index = (self._index + 1) % len(frames)
        packet.pts = count * self._step
        packet.time_base = self._time_base
        return packet


async def publish_clip(client: Client, clip: Clip) -> ClipTrack:
    """Publish a looping clip that answers the SFU's keyframe requests."""
    track = ClipTrack(clip)
    await client.publish(track)
    assert client.publisher is not None
    for transceiver in client.publisher.getTransceivers():
        if transceiver.sender.track is track:
            track.answer_keyframe_requests(transceiver.sender)
    return track
