"""One published track sent to one subscriber: header rewriting, NACKs, sender reports."""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING

from aiortc import RTCRtpTransceiver

from meetbox.ids import ParticipantSid, TrackSid
from meetbox.media import rtcp
from meetbox.media.munger import SEQ_MOD, TS_MOD
from meetbox.media.rtp import (
    RtpHeader,
    build_extensions,
    rewrite,
    rewrite_tail,
    wrap_rtx,
)
from meetbox.sfu import aiortc as internals
from meetbox.sfu import counters
from meetbox.sfu.negotiation import FORWARDED_EXTENSIONS, URI_MID, MediaSection

if TYPE_CHECKING:
    from meetbox.sfu.uptrack import UpTrack

logger = logging.getLogger(__name__)

# Down-tracks that map header extensions alike share one rewritten packet tail per
# incoming packet; each layout gets a small number so the per-packet lookup is cheap.
_LAYOUTS: dict[tuple[object, ...], int] = {}


def _layout_number(layout: tuple[object, ...]) -> int:
    return _LAYOUTS.setdefault(layout, len(_LAYOUTS))


class DownTrack:
    """One subscriber's copy of an up-track: its forwarder (offsets, header fields, counters
    the fan-out loop reads), its answer to NACKs from the up-track's cache and its
    translated sender reports. Owned by the subscriber peer; ``close()`` detaches it from
    its up-track.
    """

    def __init__(
        self, up: UpTrack, transceiver: RTCRtpTransceiver, subscriber_sid: ParticipantSid
    ) -> None:
        self.up = up
        # what feeds it: the up-track, or of a simulcast track the layer it receives now
        self.source: UpTrack = up
        self.target: UpTrack | None = None  # the layer it goes to at that layer's keyframe
        self.paused = False  # the subscriber does not show it (hidden tile) or gave it up
        self.view: tuple[int, int] | None = None  # the tile's width and height, if told
        self.max_layer: int | None = None  # the highest layer its link carries (None: any)
        self.track_sid: TrackSid = up.sid
        self.subscriber_sid = subscriber_sid
        self.kind = up.kind
        self.transceiver = transceiver
        self.ssrc, self.rtx_ssrc = internals.sender_ssrcs(transceiver.sender)
        # the munger, header fields and counters the forwarding loop reads and writes
        self.forwarder = up.fanout.Forwarder(
            up.codec.clock_rate, self.ssrc, random.randrange(SEQ_MOD), random.randrange(TS_MOD)
        )
        self.forwarder.waiting_for_keyframe = up.kind == "video"
        self.rtx_payload_type: int | None = None
        self.remb: int | None = None
        self.fraction_lost = 0
        self.retransmits = 0
        self.nacks_received = 0  # packets the subscriber asked for again
        self.keyframe_requests_received = 0  # its PLIs and FIRs
        self._ext_map: dict[int, int] = {}
        self._mid_ext: tuple[int, bytes] | None = None
        self._rtx_seq = random.randrange(1 << 16)
        self._run_start = -1  # the first outgoing sequence number of the current source run

    @property
    def mid(self) -> str | None:
        mid: str | None = self.transceiver.mid
        return mid

    @property
    def writer(self) -> internals.TransportWriter | None:
        """The subscriber transport's writer, once the answer came (the forwarder's route)."""
        writer: internals.TransportWriter | None = self.forwarder.route
        return writer

    @property
    def layout(self) -> int | None:
        """The number of this down-track's header-extension layout, once answered."""
        layout: int | None = self.forwarder.layout
        return layout

    @property
    def payload_type(self) -> int | None:
        payload_type: int = self.forwarder.payload_type
        return None if payload_type < 0 else payload_type

    @property
    def packets_sent(self) -> int:
        sent: int = self.forwarder.packets_sent
        return sent

    @property
    def octets_sent(self) -> int:
        sent: int = self.forwarder.octets_sent
        return sent

    @property
    def closed(self) -> bool:
        closed: bool = self.forwarder.closed
        return closed

    @property
    def ready(self) -> bool:
        writer = self.writer
        return (
            writer is not None
            and self.payload_type is not None
            and not self.closed
            and writer.connected
        )

    def configure(self, section: MediaSection, writer: internals.TransportWriter) -> None:
        """Take the subscriber's answer for this track's m-section."""
        codec = next((c for c in section.codecs if c.same_format(self.up.codec)), None)
        if section.rejected or codec is None:
            logger.info("subscriber %s refused track %s", self.subscriber_sid, self.track_sid)
            self.forwarder.payload_type = -1
            return
        self.forwarder.payload_type = codec.payload_type
        self.rtx_payload_type = codec.rtx_payload_type
        self._ext_map = {
            self.up.extensions[uri]: section.extensions[uri]
            for uri in FORWARDED_EXTENSIONS
            if uri in self.up.extensions and uri in section.extensions
        }
        mid_id = section.extensions.get(URI_MID)
        self._mid_ext = (mid_id, section.mid.encode()) if mid_id else None
        self.forwarder.layout = _layout_number(
            (tuple(sorted(self._ext_map.items())), self._mid_ext)
        )
        self.forwarder.route = writer
        self.up.layouts_changed()

    def source_changed(self) -> None:
        """The next packet starts a new run (new SSRC, unmute): keep output continuous."""
        self.forwarder.resync()
        last = self.forwarder.last_seq
        self._run_start = (last + 1) % SEQ_MOD if last >= 0 else -1
        if self.kind == "video":
            self.forwarder.waiting_for_keyframe = True

    def move_to(self, layer: UpTrack | None) -> None:
        """Receive ``layer`` from its next keyframe on (the current source until then);
        None: receive nothing from now on (the subscriber does not show it)."""
        if self.closed:
            return
        if self.target is not None and self.target is not layer:
            self.target.detach(self)  # not attached: only leaves its pending list
            self.target = None
        if layer is None:
            self.paused = True
            self.source.detach(self)
            return
        if layer is self.source and not self.paused:
            return
        self.target = layer
        if self not in layer.pending:
            layer.pending.append(self)
        layer.request_keyframe(first_picture=True)

    def switched(self, layer: UpTrack) -> None:
        """``layer``'s keyframe begins: leave the old source, continue the output stream."""
        self.target = None
        self.paused = False
        if layer is not self.source:
            self.source.detach(self)
            self.source = layer
        self.source_changed()
        layer.attach(self)
        self.up.consumers_changed()

    def request_keyframe(self) -> None:
        """The subscriber lost the picture (PLI, FIR): ask whoever feeds it."""
        (self.target or self.source).request_keyframe()

    def upstream_closed(self) -> None:
        self.forwarder.payload_type = -1

    def _extension(self, elements: dict[int, bytes]) -> bytes:
        out = {}
        ext_map = self._ext_map
        for src_id, value in elements.items():
            dst_id = ext_map.get(src_id)
            if dst_id is not None:
                out[dst_id] = value
        if self._mid_ext is not None:
            out[self._mid_ext[0]] = self._mid_ext[1]
        return build_extensions(out)

    def tail(self, data: bytes, header: RtpHeader, elements: dict[int, bytes]) -> tuple[int, bytes]:
        """The packet's first byte and rewritten tail for this down-track's layout (shared
        by the down-tracks of the same layout: :func:`meetbox.sfu.fanout.fan_out`)."""
        return rewrite_tail(data, header, self._extension(elements))

    def retransmit(self, lost: list[int]) -> None:
        """Answer a subscriber's NACK from the publisher track's packet cache (RFC 4588)."""
        cache = self.source.cache
        writer = self.writer
        if cache is None or writer is None or self.payload_type is None:
            return
        run_start = self._run_start
        for out_seq in lost:
            if run_start >= 0 and (out_seq - run_start) % SEQ_MOD >= SEQ_MOD // 2:
                continue  # sent from an earlier source (another layer): not in this cache
            data = cache.get(self.forwarder.incoming_seq(out_seq))
            if data is None:
                continue
            header = RtpHeader.parse(data)
            packet = rewrite(
                data,
                header,
                payload_type=self.payload_type,
                sequence_number=out_seq,
                timestamp=(header.timestamp + self.forwarder.ts_offset) % TS_MOD,
                ssrc=self.ssrc,
                extension=self._extension({}),
            )
            if self.rtx_payload_type is not None:
                packet = wrap_rtx(
                    packet,
                    RtpHeader.parse(packet),
                    ssrc=self.rtx_ssrc,
                    payload_type=self.rtx_payload_type,
                    sequence=self._rtx_seq,
                )
                self._rtx_seq = (self._rtx_seq + 1) & 0xFFFF
            if writer.send(packet):
                self.retransmits += 1

    def send_sender_report(self, report: rtcp.SenderReport) -> None:
        """The publisher's SR in this stream's terms, so the subscriber keeps lip sync."""
        writer = self.writer
        if writer is None or self.forwarder.last_seq < 0 or not self.ready:
            return
        translated = rtcp.SenderReport(
            ssrc=self.ssrc,
            ntp_timestamp=report.ntp_timestamp,
            rtp_timestamp=(report.rtp_timestamp + self.forwarder.ts_offset) % TS_MOD,
            packet_count=self.packets_sent,
            octet_count=self.octets_sent,
        )
        writer.send(bytes(translated))

    def on_receiver_report(self, block: rtcp.ReportBlock) -> None:
        self.fraction_lost = block.fraction_lost

    def close(self) -> None:
        if self.closed:
            return
        self.forwarder.closed = True
        counters.CLOSED.add_down(self)  # its totals stay in the process's
        if self.target is not None:
            self.target.detach(self)
        self.source.detach(self)
        self.up.detach(self)
