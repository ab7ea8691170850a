"""A published track as the SFU receives it: one incoming RTP stream and its fan-out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from meetbox.ids import ParticipantSid, TrackSid
from meetbox.media import rtcp
from meetbox.media.audiolevel import audio_level_from_extension
from meetbox.media.keyframe import KeyframePacing, is_keyframe, keyframe_size
from meetbox.media.packetcache import PacketCache
from meetbox.media.rtp import RtpHeader, extension_elements
from meetbox.media.stats import NackTracker, ReceiveStatistics
from meetbox.sfu import counters, fanout
from meetbox.sfu.negotiation import URI_AUDIO_LEVEL, Codec

if TYPE_CHECKING:
    from meetbox.sfu.downtrack import DownTrack

logger = logging.getLogger(__name__)


class Tap(Protocol):
    """A consumer inside the server that takes every packet as it arrives (a recorder)."""

    def forward(self, data: bytes, header: RtpHeader, now: float) -> None: ...

    def send_sender_report(self, report: rtcp.SenderReport) -> None: ...

    def source_changed(self) -> None: ...

    def upstream_closed(self) -> None: ...


SOURCES = ("camera", "microphone", "screen_share", "screen_share_audio", "unknown")

# Down-tracks one packet is sent to per event-loop turn: about a millisecond of fan-out
# (7-8 us each). A larger room's packet is sent in slices with the loop let go between
# them, so that another room's packets wait at most a slice, not 600 subscribers' worth.
FANOUT_SLICE = 128


class UpTrack:
    """A published track: the packets of one publisher's m-section, forwarded without
    decoding to its down-tracks and its taps. Owns its receive statistics, NACK tracker,
    packet cache and keyframe pacing; owned by the router, which closes it when the track
    is unpublished (its down-tracks are told and stop).
    """

    def __init__(
        self,
        *,
        sid: TrackSid,
        participant_sid: ParticipantSid,
        kind: str,
        source: str,
        name: str,
        mid: str,
        codec: Codec,
        ssrc: int | None,
        rtx_ssrc: int | None,
        extensions: dict[str, int],
        send_rtcp: Callable[[bytes], object],
        rtcp_ssrc: int,
        keyframe_pacing: KeyframePacing,
        on_audio_level: Callable[[ParticipantSid, int], None] | None = None,
        rid: str | None = None,
    ) -> None:
        self.sid = sid
        self.rid = rid  # the simulcast layer this is (None: the whole track)
        self.participant_sid = participant_sid
        self.kind = kind
        self.source = source
        self.name = name
        self.mid = mid
        self.codec = codec
        self.ssrc = ssrc
        self.rtx_ssrc = rtx_ssrc
        self.extensions = extensions
        self.extension_uris = {ext_id: uri for uri, ext_id in extensions.items()}
        self.muted = False
        self.closed = False
        self.downtracks: list[DownTrack] = []
        # down-tracks that come over to this track (a layer, or resuming) at its next keyframe
        self.pending: list[DownTrack] = []
        self.size: tuple[int, int] | None = None  # width, height of the last keyframe
        self.fanout = fanout.current()  # the forwarding loop, compiled or Python
        self._forwarders: list[object] = []  # the down-tracks' forwarders, in step
        self._tail_makers: dict[int, DownTrack] | None = None  # one down-track per layout
        self.taps: list[Tap] = []
        self.stats: ReceiveStatistics | None = None
        self.nacks = NackTracker() if kind == "video" else None
        self.cache = PacketCache() if kind == "video" else None
        self.packets_received = 0
        self.last_arrival = 0.0
        self.bitrate = 0.0  # bits/s received, measured each second (the last rate seen)
        self.speaking = False  # its publisher is among the room's active speakers
        self._measured: tuple[float, int] | None = None
        self.duplicates = 0  # packets that came again (a late original beside its repair)
        self.send_rtcp = send_rtcp
        self._rtcp_ssrc = rtcp_ssrc
        self._keyframe_pacing = keyframe_pacing
        self.keyframe_packets = 0  # the size of the last keyframe forwarded (0: none yet)
        self._keyframe_start = -1  # the sequence number the keyframe being forwarded began at
        self._keyframe_ts = -1  # and its timestamp
        self._keyframe_at = 0.0  # when the last keyframe began to arrive
        self._keyframe_wanted = False  # asked for since the last keyframe began
        self._last_keyframe_request = float("-inf")
        self._pending_keyframe: asyncio.TimerHandle | None = None
        self._audio_level_id = extensions.get(URI_AUDIO_LEVEL) if kind == "audio" else None
        self._on_audio_level = on_audio_level
        self._mime = codec.mime_type
        self.keyframe_requests_sent = 0
        self.nack_packets_sent = 0  # packets asked for again (for the metrics)
        self.last_remb: int | None = None

    def info(self) -> dict[str, object]:
        return {
            "sid": self.sid,
            "participant_sid": self.participant_sid,
            "kind": self.kind,
            "source": self.source,
            "name": self.name,
            "muted": self.muted,
            "mime_type": self.codec.mime_type,
        }

    # -- RTP in ------------------------------------------------------------------------

    def on_rtp(self, data: bytes, header: RtpHeader, now: float) -> Awaitable[None] | None:
        """Take one packet from the publisher. In a room larger than a slice the fan-out
        goes on in the awaitable returned: await it before the next packet."""
        self.packets_received += 1
        self.last_arrival = now
        stats = self.stats
        cache = self.cache
        if stats is None or stats.ssrc != header.ssrc:
            stats = self.stats = ReceiveStatistics(header.ssrc, self.codec.clock_rate)
            self.ssrc = header.ssrc
            if cache is not None:
                cache = self.cache = PacketCache()
            for down in self.downtracks:
                down.source_changed()
            for tap in self.taps:
                tap.source_changed()
        if cache is not None:
            # Forward each packet once: a NACKed packet can come twice (its late original
            # and its repair, or two repairs), and every copy would go to every subscriber.
            # An overloaded server NACKs more, so copies would feed the overload.
            if cache.get(header.sequence_number) is not None:
                self.duplicates += 1
                return None
            cache.put(header.sequence_number, data)
        stats.add(header.sequence_number, header.timestamp, len(data), now)
        if self.nacks is not None:
            self.nacks.add(header.sequence_number)
        keyframe = True  # audio: every packet can start a subscriber
        if self.kind == "video" and (self.downtracks or self.taps or self.pending):
            payload = memoryview(data)[header.payload_start : header.payload_end]
            keyframe = is_keyframe(self._mime, payload)
            # a keyframe begins (one whose end went by unseen, with nobody to serve, is over)
            if keyframe and (self._keyframe_start < 0 or header.timestamp != self._keyframe_ts):
                self._keyframe_start = header.sequence_number
                self._keyframe_ts = header.timestamp
                self._keyframe_at = now
                self._keyframe_wanted = False  # it answers every request made before it
                self.size = keyframe_size(self._mime, payload) or self.size
                if self.pending:
                    self._take_pending()
            if header.marker and self._keyframe_start >= 0:
                sequence = header.sequence_number
                self.keyframe_packets = ((sequence - self._keyframe_start) & 0xFFFF) + 1
                self._keyframe_start = -1
        if self.taps and not self.muted:
            for tap in self.taps:
                tap.forward(data, header, now)
        forwarding = not self.muted and bool(self.downtracks)
        level_id = self._audio_level_id
        if not forwarding and level_id is None:
            return None
        elements = extension_elements(data, header)
        if level_id is not None and self._on_audio_level is not None:
            value = elements.get(level_id)
            if value:
                _, level = audio_level_from_extension(value)
                self._on_audio_level(self.participant_sid, level)
        if not forwarding:
            return None
        makers = self._tail_makers
        if makers is None:
            makers = self._tail_makers = {
                d.layout: d for d in self.downtracks if d.layout is not None
            }
        tails = {layout: down.tail(data, header, elements) for layout, down in makers.items()}
        packet = (
            tails,
            header.sequence_number,
            header.timestamp,
            header.marker,
            header.payload_end - header.payload_start,
            now,
            keyframe,
        )
        forwarders = self._forwarders
        if len(forwarders) > FANOUT_SLICE:
            # a copy: down-tracks come and go while the loop is let go
            return self._fan_out_sliced(list(forwarders), packet)
        if self.fanout.fan_out(forwarders, *packet):  # down-tracks with no picture yet
            self.request_keyframe(first_picture=True)
        return None

    def _take_pending(self) -> None:
        """A keyframe begins: the down-tracks waiting for one come over from their layer."""
        pending, self.pending = self.pending, []
        for down in pending:
            if not down.closed:
                down.switched(self)

    async def _fan_out_sliced(self, forwarders: list[object], packet: tuple[Any, ...]) -> None:
        fan_out = self.fanout.fan_out
        waiting = fan_out(forwarders[:FANOUT_SLICE], *packet)
        for start in range(FANOUT_SLICE, len(forwarders), FANOUT_SLICE):
            await asyncio.sleep(0)  # other connections' packets go between two slices
            waiting += fan_out(forwarders[start : start + FANOUT_SLICE], *packet)
        if waiting:
            self.request_keyframe(first_picture=True)

    # -- RTCP ---------------------------------------------------------------------------

    def on_sender_report(self, report: rtcp.SenderReport, now: float) -> None:
        if self.stats is not None:
            self.stats.on_sender_report(report.ntp_timestamp, now)
        for down in self.downtracks:
            down.send_sender_report(report)
        for tap in self.taps:
            tap.send_sender_report(report)

    def request_keyframe(self, first_picture: bool = False) -> None:
        """Ask the publisher for a keyframe, paced (later, not never); ``first_picture``:
        for a subscriber that has none yet, sooner. While one is arriving nothing is
        asked: it serves whoever asks (one that began before a subscriber came is followed
        by the subscriber asking again)."""
        if self.kind != "video" or self.closed or self.ssrc is None:
            return
        now = time.monotonic()
        pacing = self._keyframe_pacing
        if self._keyframe_start >= 0 and now - self._keyframe_at < pacing.retry:
            return
        self._keyframe_wanted = True
        wait = self.next_keyframe_request_at(first_picture) - now
        if wait <= 0:
            self._send_keyframe_request()
        elif self._pending_keyframe is None:
            loop = asyncio.get_running_loop()
            self._pending_keyframe = loop.call_later(wait, self._send_keyframe_request)

    def next_keyframe_request_at(self, first_picture: bool = False) -> float:
        """When (``time.monotonic()``) a keyframe may be asked for again (see
        :class:`KeyframePacing`)."""
        return self._keyframe_pacing.next_request_at(
            self._last_keyframe_request,
            self._keyframe_at,
            self.keyframe_packets,
            len(self.downtracks),
            first_picture,
        )

    def _send_keyframe_request(self) -> None:
        self._pending_keyframe = None
        if self.closed or self.ssrc is None or not self._keyframe_wanted:
            return  # a keyframe came while the request waited its turn
        self._last_keyframe_request = time.monotonic()
        self.keyframe_requests_sent += 1
        self.send_rtcp(bytes(rtcp.PictureLoss(self._rtcp_ssrc, self.ssrc)))

    def measure(self, now: float) -> None:
        """Once a second: the rate it arrives at (a paused stream keeps its last rate,
        what it will take again when resumed)."""
        received = self.stats.bytes_received if self.stats is not None else 0
        if self._measured is not None and now > self._measured[0]:
            rate = (received - self._measured[1]) * 8 / (now - self._measured[0])
            if rate > 0:
                self.bitrate = rate
        self._measured = (now, received)

    def report_blocks(self, now: float) -> list[rtcp.ReportBlock]:
        return [self.stats.report_block(now)] if self.stats is not None else []

    def due_nacks(self) -> rtcp.Nack | None:
        if self.nacks is None or self.ssrc is None:
            return None
        lost = self.nacks.due()
        if not lost:
            return None
        self.nack_packets_sent += len(lost)
        return rtcp.Nack(self._rtcp_ssrc, self.ssrc, lost)

    def estimated_bitrate(self) -> int | None:
        """The smallest bitrate any subscriber's REMB allows (None: no estimate)."""
        rates = [d.remb for d in self.downtracks if d.remb is not None]
        return min(rates) if rates else None

    # -- fan-out ------------------------------------------------------------------------

    def attach(self, down: DownTrack) -> None:
        if down not in self.downtracks:
            self.downtracks.append(down)
            self._forwarders.append(down.forwarder)
            self._tail_makers = None

    def detach(self, down: DownTrack) -> None:
        if down in self.pending:
            self.pending.remove(down)
        if down in self.downtracks:
            self.downtracks.remove(down)
            self._forwarders.remove(down.forwarder)
            self._tail_makers = None

    def receivers(self) -> list[UpTrack]:
        """The streams that receive this track's packets: itself (a simulcast track: its
        layers)."""
        return [self]

    def place(self, down: DownTrack, visible: bool = True) -> None:
        """Forward to ``down`` while its subscriber shows it (from a keyframe on)."""
        if down in self.downtracks or down.source is self:
            down.move_to(self if visible else None)

    def tick(self) -> None:
        """Once a second, from the publisher's RTCP loop: down-tracks still waiting to come
        over ask again (a publisher can let a keyframe request go unanswered)."""
        if self.pending:
            self.request_keyframe(first_picture=True)

    def consumers_changed(self) -> None:
        """Who receives which stream changed (a simulcast track pauses or resumes layers)."""

    def layouts_changed(self) -> None:
        """A down-track took its extension layout: which tails each packet needs."""
        self._tail_makers = None

    def add_tap(self, tap: Tap) -> None:
        if tap not in self.taps:
            self.taps.append(tap)

    def remove_tap(self, tap: Tap) -> None:
        if tap in self.taps:
            self.taps.remove(tap)

    def set_muted(self, muted: bool) -> None:
        if self.muted == muted:
            return
        self.muted = muted
        if not muted:
            for down in self.downtracks:
                down.source_changed()
            for tap in self.taps:
                tap.source_changed()
            self.request_keyframe()

    def close(self) -> None:
        """Stop forwarding; the down-tracks are closed by their subscriber's peer."""
        if self.closed:
            return
        self.closed = True
        counters.CLOSED.add_up(self)  # its totals stay in the process's
        if self._pending_keyframe is not None:
            self._pending_keyframe.cancel()
            self._pending_keyframe = None
        for down in list(self.downtracks):
            down.upstream_closed()
        self.downtracks.clear()
        self.pending.clear()
        self._forwarders.clear()
        self._tail_makers = None
        for tap in list(self.taps):
            tap.upstream_closed()
        self.taps.clear()
