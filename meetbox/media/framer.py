"""Whole encoded frames from a stream of RTP packets: reorder, reassemble, wait for a
keyframe at the start and after a loss that cannot be repaired."""

from __future__ import annotations

from dataclasses import dataclass

from meetbox.media.depacketize import depacketize_frame, starts_frame
from meetbox.media.keyframe import is_keyframe

SEQ_MOD = 1 << 16
TS_MOD = 1 << 32
# a hole older than this many packets is given up on (NACKs have had their chance)
MAX_HOLE_PACKETS = 96


@dataclass(frozen=True, slots=True)
class Frame:
    timestamp: int  # RTP timestamp, unwrapped (keeps growing past 2**32)
    data: bytes
    keyframe: bool


class Unwrapper:
    """Wrapping counters (sequence numbers, timestamps) as ever-growing integers."""

    def __init__(self, modulo: int) -> None:
        self._modulo = modulo
        self._last: int | None = None

    def __call__(self, value: int) -> int:
        if self._last is None:
            self._last = value
            return value
        modulo = self._modulo
        diff = (value - self._last) % modulo
        if diff >= modulo // 2:
            diff -= modulo
        out = self._last + diff
        if diff > 0:
            self._last = out
        return out


class FrameAssembler:
    """Feed packets with :meth:`add`; it returns the frames they complete, in order.

    ``needs_keyframe`` turns True when the assembler waits for a keyframe (at the start
    and after an unrepaired loss): the owner should ask the publisher for one.
    """

    def __init__(self, mime_type: str) -> None:
        self.mime_type = mime_type
        self.video = mime_type.lower().startswith("video/")
        self.needs_keyframe = self.video
        self.frames_out = 0
        self.frames_dropped = 0
        self._seq = Unwrapper(SEQ_MOD)
        self._ts = Unwrapper(TS_MOD)
        self._packets: dict[int, tuple[int, bool, bytes]] = {}
        self._next: int | None = None  # the sequence number the next frame starts at
        self._highest = -1
        self._last_ts = -1

    def add(self, seq: int, timestamp: int, marker: bool, payload: bytes) -> list[Frame]:
        ext_seq = self._seq(seq)
        ts = self._ts(timestamp)
        if not self.video:
            if ts <= self._last_ts or not payload:
                return []  # late or duplicate audio: its time has passed
            self._last_ts = ts
            self.frames_out += 1
            return [Frame(ts, payload, True)]
        if self._next is not None and ext_seq < self._next:
            return []  # a late duplicate or retransmission of what is already out
        self._packets[ext_seq] = (ts, marker, payload)
        self._highest = max(self._highest, ext_seq)
        if self._next is None:
            if not starts_frame(self.mime_type, payload):
                self._forget_before(ext_seq)
                return []
            self._next = ext_seq
        frames = self._drain()
        if self._highest - (self._next or 0) > MAX_HOLE_PACKETS:
            self._skip_hole()
            frames += self._drain()
        return frames

    def _drain(self) -> list[Frame]:
        frames: list[Frame] = []
        packets = self._packets
        while self._next is not None:
            start = self._next
            first = packets.get(start)
            if first is None:
                break
            ts = first[0]
            end = start
            while True:
                packet = packets.get(end)
                if packet is None or packet[0] != ts:
                    return frames  # a hole inside the frame (or its end not here yet)
                if packet[1]:
                    break
                end += 1
            parts = [packets.pop(s)[2] for s in range(start, end + 1)]
            self._next = end + 1
            frame = self._frame(ts, parts)
            if frame is not None:
                frames.append(frame)
        return frames

    def _frame(self, ts: int, parts: list[bytes]) -> Frame | None:
        keyframe = is_keyframe(self.mime_type, parts[0])
        if self.needs_keyframe and not keyframe:
            self.frames_dropped += 1
            return None
        try:
            data = depacketize_frame(self.mime_type, parts)
        except ValueError:
            self.frames_dropped += 1
            self.needs_keyframe = True
            return None
        if ts <= self._last_ts:
            self.frames_dropped += 1
            return None
        self.needs_keyframe = False
        self._last_ts = ts
        self.frames_out += 1
        return Frame(ts, data, keyframe)

    def _skip_hole(self) -> None:
        """Give up on the missing packets: restart at the next frame start buffered."""
        self.needs_keyframe = True
        self.frames_dropped += 1
        assert self._next is not None
        for seq in sorted(s for s in self._packets if s > self._next):
            ts, _, payload = self._packets[seq]
            previous = self._packets.get(seq - 1)
            if starts_frame(self.mime_type, payload) and (previous is None or previous[0] != ts):
                self._forget_before(seq)
                self._next = seq
                return
        self._packets.clear()
        self._next = None

    def _forget_before(self, seq: int) -> None:
        for old in [s for s in self._packets if s < seq]:
            del self._packets[old]
