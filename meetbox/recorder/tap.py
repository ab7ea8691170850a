"""A recorder's place among a published track's consumers: it takes the packets the SFU
would forward to a hidden subscriber, reassembles frames and times them."""

from __future__ import annotations

import time
from collections.abc import Callable

from meetbox.media import rtcp
from meetbox.media.framer import TS_MOD, Frame, FrameAssembler
from meetbox.media.rtp import RtpHeader
from meetbox.sfu.uptrack import UpTrack

NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900 to 1970


def ntp_to_unix(ntp: int) -> float:
    return (ntp >> 32) - NTP_UNIX_OFFSET + (ntp & 0xFFFFFFFF) / 2**32


class SenderClock:
    """One publisher's clock as sender reports reveal it, shared by its tracks: the offset
    from its NTP time to this server's wall clock, fixed at the first report so the tracks
    switch to report-based times together and stay in sync with each other."""

    def __init__(self) -> None:
        self.offset: float | None = None  # server seconds minus sender NTP seconds


class TrackClock:
    """RTP timestamps as server wall-clock seconds: anchored at the earliest arrival seen
    (a frame that was held up does not shift the ones after it) until the publisher's
    sender reports place them on its own clock (the clock that keeps its audio and video
    in sync), shifted by the publisher's :class:`SenderClock` offset."""

    def __init__(self, clock_rate: int, sender: SenderClock | None = None) -> None:
        self.clock_rate = clock_rate
        self.sender = sender or SenderClock()
        self._anchor: tuple[int, float] | None = None  # (timestamp, server seconds)
        self._report: tuple[int, float] | None = None  # (timestamp, sender NTP seconds)
        self._last_ts: int | None = None

    @property
    def synced(self) -> bool:
        return self._report is not None and self.sender.offset is not None

    def time_of(self, ts: int, arrival: float) -> float:
        self._last_ts = ts
        if self._report is not None and self.sender.offset is not None:
            report_ts, report_ntp = self._report
            return report_ntp + (ts - report_ts) / self.clock_rate + self.sender.offset
        if self._anchor is None:
            self._anchor = (ts, arrival)
        anchor_ts, anchor_time = self._anchor
        mapped = anchor_time + (ts - anchor_ts) / self.clock_rate
        if arrival < mapped:  # this frame came sooner: the anchor's frame had been held up
            self._anchor = (ts, arrival)
            return arrival
        return mapped

    def on_sender_report(self, report: rtcp.SenderReport) -> None:
        if self._last_ts is None or self._anchor is None:
            return
        diff = (report.rtp_timestamp - self._last_ts) % TS_MOD
        if diff >= TS_MOD // 2:
            diff -= TS_MOD
        ts = self._last_ts + diff
        ntp = ntp_to_unix(report.ntp_timestamp)
        if self.sender.offset is None:
            # the first report of this publisher: keep this track's times continuous
            anchor_ts, anchor_time = self._anchor
            self.sender.offset = anchor_time + (ts - anchor_ts) / self.clock_rate - ntp
        self._report = (ts, ntp)


FrameCallback = Callable[["RecorderTap", Frame, float], None]


class RecorderTap:
    """Implements :class:`meetbox.sfu.uptrack.Tap`."""

    def __init__(
        self,
        up: UpTrack,
        on_frame: FrameCallback,
        on_closed: Callable[[RecorderTap], None],
        sender: SenderClock | None = None,
    ) -> None:
        self.up = up
        self.kind = up.kind
        self.mime_type = up.codec.mime_type
        self.assembler = FrameAssembler(self.mime_type)
        self.sender = sender or SenderClock()
        self.clock = TrackClock(up.codec.clock_rate, self.sender)
        self.closed = False
        self._on_frame = on_frame
        self._on_closed = on_closed
        up.add_tap(self)
        if self.assembler.needs_keyframe:
            up.request_keyframe(first_picture=True)

    def forward(self, data: bytes, header: RtpHeader, now: float) -> None:
        if self.closed:
            return
        arrival = time.time()
        payload = data[header.payload_start : header.payload_end]
        for frame in self.assembler.add(
            header.sequence_number, header.timestamp, header.marker, payload
        ):
            self._on_frame(self, frame, self.clock.time_of(frame.timestamp, arrival))
        if self.assembler.needs_keyframe:
            self.up.request_keyframe()

    def send_sender_report(self, report: rtcp.SenderReport) -> None:
        self.clock.on_sender_report(report)

    def source_changed(self) -> None:
        """A new SSRC or an unmute: a new run of sequence numbers and timestamps."""
        self.assembler = FrameAssembler(self.mime_type)
        self.clock = TrackClock(self.up.codec.clock_rate, self.sender)
        if self.assembler.needs_keyframe:
            self.up.request_keyframe(first_picture=True)

    def upstream_closed(self) -> None:
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.up.remove_tap(self)
        self._on_closed(self)
