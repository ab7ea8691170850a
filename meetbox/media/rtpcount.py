"""Counting received RTP without decoding it: packets, bytes, losses and frames per stream."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from meetbox.media.stats import ReceiveStatistics


@dataclass
class Totals:
    packets: int = 0
    bytes: int = 0
    lost: int = 0
    expected: int = 0
    frames: int = 0  # video frames completed (marker bit)

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.packets + other.packets,
            self.bytes + other.bytes,
            self.lost + other.lost,
            self.expected + other.expected,
            self.frames + other.frames,
        )


class RtpCounter:
    """Per-SSRC receive statistics of one subscriber, plus video frames by marker bit.

    ``payload_kinds`` (payload type -> "audio", "video" or "rtx") is filled by whoever
    negotiated the connection; ``first_video_at`` is when (by ``clock``) the first video
    packet came.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.payload_kinds: dict[int, str] = {}
        self.streams: dict[int, ReceiveStatistics] = {}
        self.frames: dict[int, int] = {}
        self.first_video_at: float | None = None
        self.video_streams = 0  # SSRCs video came on
        self.retransmissions = 0
        self._clock = clock

    def add(self, data: bytes, arrival_ms: int) -> None:
        """Count a decrypted RTP packet."""
        if len(data) >= 12:
            self._count(data, len(data))

    def add_protected(self, data: bytes, tag_length: int) -> None:
        """Count an SRTP packet from its header, which is in clear; its RTP size is
        without the ``tag_length`` bytes of authentication tag."""
        if len(data) >= 12 + tag_length:
            self._count(data, len(data) - tag_length)

    def _count(self, data: bytes, size: int) -> None:
        kind = self.payload_kinds.get(data[1] & 0x7F)
        if kind == "rtx":  # a retransmission: its own sequence space, not media
            self.retransmissions += 1
            return
        ssrc = int.from_bytes(data[8:12], "big")
        stream = self.streams.get(ssrc)
        if stream is None:
            stream = self.streams[ssrc] = ReceiveStatistics(ssrc, 90000)
            self.frames[ssrc] = 0
            if kind == "video":
                self.video_streams += 1
        stream.packets_received += 1
        stream.bytes_received += size
        seq = (data[2] << 8) | data[3]
        if stream.max_seq < 0:
            stream.base_seq = stream.max_seq = seq
        else:
            delta = (seq - stream.max_seq) & 0xFFFF
            if 0 < delta < 3000:
                if seq < stream.max_seq:
                    stream.cycles += 1 << 16
                stream.max_seq = seq
        if kind == "video":
            if self.first_video_at is None:
                self.first_video_at = self._clock()
            if data[1] & 0x80:
                self.frames[ssrc] += 1

    def totals(self) -> Totals:
        total = Totals()
        for ssrc, s in self.streams.items():
            expected = s.extended_max - s.base_seq + 1
            frames = self.frames[ssrc]
            total += Totals(
                s.packets_received,
                s.bytes_received,
                max(0, expected - s.packets_received),
                expected,
                frames,
            )
        return total
