"""The connection a participant publishes on: the client offers, the SFU answers.

Decrypted RTP from the connection goes straight to the :class:`UpTrack` it belongs to
(by SSRC, RTX SSRC or, for an unsignalled SSRC, the MID header extension); aiortc's
receivers never see it, so nothing is decoded.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCSessionDescription

from meetbox.config import RtcSettings
from meetbox.errors import FailedPrecondition, InvalidArgument
from meetbox.ids import ParticipantSid, new_track_sid
from meetbox.media import rtcp
from meetbox.media.keyframe import KeyframePacing
from meetbox.media.rtp import RtpHeader, extension_elements, unwrap_rtx
from meetbox.sfu import aiortc as internals
from meetbox.sfu.negotiation import (
    EXTRA_VIDEO,
    MAX_PUBLISH_SECTIONS,
    URI_MID,
    URI_REPAIRED_RID,
    URI_RID,
    MediaSection,
    answer_simulcast,
    parse_sections,
    section_by_mid,
    simulcast_offer,
    supported,
)
from meetbox.sfu.peer import new_peer_connection
from meetbox.sfu.simulcast import SimulcastTrack
from meetbox.sfu.tasks import cancel_and_wait
from meetbox.sfu.uptrack import UpTrack

logger = logging.getLogger(__name__)

NACK_INTERVAL = 0.05
# SSRCs one publisher connection may bring unannounced (layers, RTX, restarts)
MAX_LATCHED = 256
REPORT_EVERY = 20  # NACK intervals: one receiver report a second


@dataclass(frozen=True)
class TrackDescription:
    source: str
    name: str


@dataclass
class OfferResult:
    answer: str
    added: list[UpTrack]
    removed: list[UpTrack]


def _first(elements: dict[int, bytes], ids: set[int]) -> str | None:
    for ext_id in ids:
        value = elements.get(ext_id)
        if value is not None:
            return value.decode(errors="replace")
    return None


class PublisherPeer:
    """The connection a participant publishes on: the client offers, the SFU answers and
    creates an :class:`UpTrack` per new sending m-section. Owns its peer connection and its
    RTCP task; owned by the participant, which closes it.
    """

    def __init__(
        self,
        participant_sid: ParticipantSid,
        settings: RtcSettings,
        on_audio_level: Callable[[ParticipantSid, int], None] | None = None,
        on_layers: Callable[[SimulcastTrack, list[str]], None] | None = None,
    ) -> None:
        self.participant_sid = participant_sid
        self._on_layers = on_layers
        self.settings = settings
        self._keyframe_pacing = KeyframePacing(
            retry=settings.keyframe_request_interval,
            min_interval=settings.keyframe_request_min_interval,
            max_interval=settings.keyframe_request_max_interval,
            budget_pps=settings.keyframe_budget_pps,
        )
        self.pc = new_peer_connection(settings)
        self.uptracks: dict[str, UpTrack] = {}  # by mid
        self.closed = False
        self._on_audio_level = on_audio_level
        self._by_ssrc: dict[int, UpTrack] = {}
        self._by_rtx: dict[int, UpTrack] = {}
        self._mid_ext_ids: set[int] = set()
        self._rid_ext_ids: set[int] = set()  # RID header extensions (simulcast layers)
        self._rrid_ext_ids: set[int] = set()  # repaired RID: a layer's RTX stream
        self._simulcast: dict[str, tuple[str, ...]] = {}  # mid -> RIDs, as offered
        self._retired: set[str] = set()
        self._rtcp_ssrc = random.randrange(1, 1 << 32)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def handle_offer(
        self, sdp: str, describe: Callable[[MediaSection], TrackDescription]
    ) -> OfferResult:
        """Apply a publish offer and answer it.

        ``describe`` names the source of each new sending m-section and raises a
        :class:`~meetbox.errors.MeetboxError` to refuse the whole offer.
        """
        async with self._lock:
            if self.closed:
                raise FailedPrecondition("the publisher connection is closed")
            try:
                sections = parse_sections(sdp, MAX_PUBLISH_SECTIONS)
                layers = simulcast_offer(sdp)
            except ValueError as exc:
                raise InvalidArgument(str(exc)) from None
            videos = {s.mid for s in sections if s.kind == "video"}
            layers = {mid: rids for mid, rids in layers.items() if mid in videos}
            if not sections:
                raise InvalidArgument("the offer has no audio or video m-section")
            for section in sections:
                if not section.rejected and not any(supported(c) for c in section.codecs):
                    names = ", ".join(c.mime_type for c in section.codecs) or "none"
                    raise InvalidArgument(
                        f"m-section {section.mid} offers no codec meetbox can forward ({names})"
                    )
                mimes = {c.mime_type.lower() for c in section.codecs if supported(c)}
                if not section.rejected and mimes and mimes <= set(EXTRA_VIDEO):
                    raise InvalidArgument(
                        f"m-section {section.mid} offers only {', '.join(sorted(mimes))}: "
                        "offer VP8 or H264 beside it"
                    )
            described = {
                s.mid: describe(s)
                for s in sections
                if s.sends and s.mid not in self.uptracks and s.mid not in self._retired
            }
            if self.pc.signalingState != "stable":
                raise FailedPrecondition("a publish offer is already being applied")
            try:
                await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
                # before the next await: on a connected transport, the connect step that
                # setRemoteDescription scheduled would start the new receivers
                for transceiver in self.pc.getTransceivers():
                    internals.park_receiver(transceiver.receiver)
                    offered = section_by_mid(sections, transceiver.mid or "")
                    if offered is not None and offered.kind == "video":
                        self._choose_codec(transceiver, offered, sdp)
                    if offered is not None and transceiver.mid in layers:
                        rid_uris = (URI_RID, URI_REPAIRED_RID)
                        internals.accept_header_extensions(
                            transceiver,
                            {u: i for u, i in offered.extensions.items() if u in rid_uris},
                        )
                await self.pc.setLocalDescription(await self.pc.createAnswer())
            except Exception as exc:
                logger.info("publish offer refused: %r", exc)
                raise InvalidArgument(f"the publish offer was refused: {exc}") from None
            self._simulcast.update(layers)
            answer = answer_simulcast(self.pc.localDescription.sdp, layers)
            return self._apply(sections, parse_sections(answer), described, answer)

    def _choose_codec(self, transceiver: Any, offered: MediaSection, sdp: str) -> None:
        """The first of ``rtc.video_codecs`` the section offers; aiortc answers those it
        knows by itself, meetbox those it forwards without aiortc (VP9, AV1)."""
        mimes = {c.mime_type.lower() for c in offered.codecs}
        for name in self.settings.video_codecs:
            mime = f"video/{name}"
            if mime in mimes:
                if mime in EXTRA_VIDEO:
                    internals.accept_offered_codecs(transceiver, sdp, mime)
                return

    def _apply(
        self,
        offered: list[MediaSection],
        answered: list[MediaSection],
        described: dict[str, TrackDescription],
        answer: str,
    ) -> OfferResult:
        added: list[UpTrack] = []
        removed: list[UpTrack] = []
        for section in offered:
            mine = section_by_mid(answered, section.mid)
            if mid_ext := section.extensions.get(URI_MID):
                self._mid_ext_ids.add(mid_ext)
            if mine is not None and (rid_ext := mine.extensions.get(URI_RID)):
                self._rid_ext_ids.add(rid_ext)
            if mine is not None and (rrid_ext := mine.extensions.get(URI_REPAIRED_RID)):
                self._rrid_ext_ids.add(rrid_ext)
            if section.mid in self._retired:
                # an unpublished track's m-section: it publishes again only after the
                # client has stopped sending on it once
                if not section.sends:
                    self._retired.discard(section.mid)
                continue
            current = self.uptracks.get(section.mid)
            if current is not None and not section.sends:
                removed.append(self._remove(section.mid))
                continue
            if current is not None or not section.sends or mine is None or not mine.codecs:
                continue
            transceiver = next((t for t in self.pc.getTransceivers() if t.mid == section.mid), None)
            if transceiver is None:
                continue
            transport = internals.transport_of(transceiver)
            internals.intercept_transport(transport, self._on_rtp, self._on_rtcp)
            meta = described[section.mid]
            fields: dict[str, Any] = {
                "sid": new_track_sid(),
                "participant_sid": self.participant_sid,
                "kind": section.kind,
                "source": meta.source,
                "name": meta.name,
                "mid": section.mid,
                "codec": mine.codecs[0],
                "ssrc": section.ssrc,
                "rtx_ssrc": section.rtx_ssrc,
                "extensions": mine.extensions,
                "send_rtcp": internals.writer_for(transport).send,
                "rtcp_ssrc": self._rtcp_ssrc,
                "keyframe_pacing": self._keyframe_pacing,
                "on_audio_level": self._on_audio_level,
            }
            rids = self._simulcast.get(section.mid, ())
            up = (
                SimulcastTrack(
                    rids=rids,
                    on_layers=self._on_layers,
                    publish_bitrate=self.settings.simulcast_bitrate,
                    **fields,
                )
                if rids and URI_RID in mine.extensions
                else UpTrack(**fields)
            )
            self.uptracks[section.mid] = up
            if section.ssrc is not None:
                self._by_ssrc[section.ssrc] = up
            if section.rtx_ssrc is not None:
                self._by_rtx[section.rtx_ssrc] = up
            added.append(up)
        for mid in [m for m in self.uptracks if section_by_mid(offered, m) is None]:
            removed.append(self._remove(mid))
        if self.uptracks and self._task is None:
            self._task = asyncio.create_task(self._run_rtcp(), name=f"rtcp-{self.participant_sid}")
        return OfferResult(answer=answer, added=added, removed=removed)

    def _remove(self, mid: str) -> UpTrack:
        up = self.uptracks.pop(mid)
        streams = up.receivers()
        for table in (self._by_ssrc, self._by_rtx):
            for ssrc in [s for s, u in table.items() if u in streams]:
                del table[ssrc]
        up.close()
        return up

    def remove_track(self, up: UpTrack) -> None:
        """Stop routing a track the participant unpublished (its m-section stays)."""
        if self.uptracks.get(up.mid) is up:
            self._remove(up.mid)
            self._retired.add(up.mid)

    # -- ingress ---------------------------------------------------------------------

    async def _on_rtp(self, data: bytes, arrival_time_ms: int) -> None:
        try:
            header = RtpHeader.parse(data)
        except ValueError:
            return
        up = self._by_ssrc.get(header.ssrc)
        if up is None:
            up = self._by_rtx.get(header.ssrc)
            if up is None and self._latch(data, header):
                up = self._by_ssrc.get(header.ssrc)
                if up is None:
                    up = self._by_rtx.get(header.ssrc)
                else:
                    rest = up.on_rtp(data, header, time.monotonic())
                    if rest is not None:
                        await rest
                    return
            if up is None:
                return
            if up.ssrc is None or header.payload_end - header.payload_start < 2:
                return  # padding-only probe, or nothing to repair yet
            data, header = unwrap_rtx(
                data, header, ssrc=up.ssrc, payload_type=up.codec.payload_type
            )
        rest = up.on_rtp(data, header, time.monotonic())
        if rest is not None:  # a large room's fan-out, in slices
            await rest

    def _latch(self, data: bytes, header: RtpHeader) -> bool:
        """An SSRC the SDP did not announce: find its track by the MID extension, and a
        simulcast layer (or its RTX stream) by the RID (repaired RID) extension."""
        if len(self._by_ssrc) + len(self._by_rtx) >= MAX_LATCHED:
            return False  # a publisher cycling SSRCs: no more tables
        elements = extension_elements(data, header)
        mid = _first(elements, self._mid_ext_ids)
        up = self.uptracks.get(mid) if mid is not None else None
        rid = _first(elements, self._rid_ext_ids)
        repaired = _first(elements, self._rrid_ext_ids)
        if up is None and (rid or repaired):  # no MID: the track that has this layer
            up = next(
                (t for t in self.uptracks.values() if isinstance(t, SimulcastTrack)
                 and (rid or repaired) in t.by_rid),
                None,
            )  # fmt: skip
        if up is None:
            return False
        codec = up.codec
        if isinstance(up, SimulcastTrack):
            if rid is not None and header.payload_type == codec.payload_type:
                layer = up.by_rid.get(rid)
                if layer is not None:
                    self._by_ssrc[header.ssrc] = layer
                    return True
            if repaired is not None and header.payload_type == codec.rtx_payload_type:
                layer = up.by_rid.get(repaired)
                if layer is not None:
                    self._by_rtx[header.ssrc] = layer
                    layer.rtx_ssrc = header.ssrc
                    return True
            return False
        if header.payload_type == codec.payload_type:
            self._by_ssrc[header.ssrc] = up
            return True
        return False

    async def _on_rtcp(self, data: bytes) -> None:
        try:
            packets = rtcp.parse_compound(data)
        except ValueError:
            return
        now = time.monotonic()
        for packet in packets:
            if isinstance(packet, rtcp.SenderReport):
                up = self._by_ssrc.get(packet.ssrc)
                if up is not None:
                    up.on_sender_report(packet, now)

    async def _run_rtcp(self) -> None:
        """NACKs for missing packets; receiver reports and REMB once a second."""
        tick = 0
        try:
            while not self.closed:
                await asyncio.sleep(NACK_INTERVAL)
                tick += 1
                for up in list(self.uptracks.values()):
                    for stream in up.receivers():
                        nack = stream.due_nacks()
                        if nack is not None:
                            stream.send_rtcp(bytes(nack))
                if tick % REPORT_EVERY == 0:
                    self._send_reports()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("publisher RTCP loop of %s failed", self.participant_sid)

    def _send_reports(self) -> None:
        now = time.monotonic()
        for up in list(self.uptracks.values()):
            up.tick()
            bitrate = up.estimated_bitrate()
            for stream in up.receivers():
                stream.measure(now)
                packets: list[rtcp.RtcpPacket] = [
                    rtcp.ReceiverReport(self._rtcp_ssrc, stream.report_blocks(now))
                ]
                if bitrate is not None and stream.ssrc is not None:
                    packets.append(rtcp.Remb(self._rtcp_ssrc, bitrate, [stream.ssrc]))
                    stream.last_remb = bitrate
                stream.send_rtcp(rtcp.serialize_compound(packets))

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        await cancel_and_wait(self._task)
        for mid in list(self.uptracks):
            self._remove(mid)
        await self.pc.close()
