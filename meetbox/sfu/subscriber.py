"""The connection a participant receives on: the SFU offers, the client answers.

One sendonly m-section per subscribed track. Adding or removing a track renegotiates;
negotiations run one at a time and coalesce while one is waiting for its answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiortc import RTCSessionDescription

from meetbox.config import RtcSettings
from meetbox.errors import FailedPrecondition, InvalidArgument, NotFound
from meetbox.ids import ParticipantSid, TrackSid
from meetbox.media import rtcp
from meetbox.sfu import aiortc as internals
from meetbox.sfu.allocation import LinkEstimate, allocate
from meetbox.sfu.downtrack import DownTrack
from meetbox.sfu.negotiation import capabilities_for, parse_sections, section_by_mid
from meetbox.sfu.peer import new_peer_connection
from meetbox.sfu.tasks import cancel_and_wait
from meetbox.sfu.uptrack import UpTrack

logger = logging.getLogger(__name__)

# seconds between two updates of a subscriber's link estimate and layer caps
ALLOCATE_EVERY = 0.5
# (sdp, {mid: track sid}) -> delivered to the client
OfferSender = Callable[[str, dict[str, str]], Awaitable[None]]


class SubscriberPeer:
    """The connection a participant receives on: the SFU offers (renegotiating as tracks
    come and go, one offer outstanding at a time) and owns a :class:`DownTrack` per
    subscribed track. Owned by the participant, which closes it (and so its down-tracks).
    """

    def __init__(
        self,
        participant_sid: ParticipantSid,
        settings: RtcSettings,
        send_offer: OfferSender,
        answer_timeout: float = 15.0,
    ) -> None:
        self.participant_sid = participant_sid
        self.pc = new_peer_connection(settings)
        self.downtracks: dict[TrackSid, DownTrack] = {}
        self.negotiations = 0
        self.closed = False
        self._by_ssrc: dict[int, DownTrack] = {}
        self._send_offer = send_offer
        self._answer_timeout = answer_timeout
        self._needs_negotiation = False
        self._answer: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.link = LinkEstimate()  # what its downlink carries: each subscriber its own
        # since the last update: when it began, octets and packets sent until then
        self._interval: tuple[float, int, int] = (time.monotonic(), 0, 0)
        self._losses: list[int] = []  # fraction lost (of 256) reported since
        self._nacked = 0  # packets asked for again since

    def add(self, up: UpTrack) -> DownTrack:
        existing = self.downtracks.get(up.sid)
        if existing is not None:
            return existing
        transceiver = self.pc.addTransceiver(internals.ParkedTrack(up.kind), direction="sendonly")
        internals.prefer_codecs(transceiver, capabilities_for(up.codec, up.kind))
        internals.set_sender_stream(transceiver.sender, up.participant_sid, up.sid)
        internals.silence_sender_reports(transceiver.sender)
        down = DownTrack(up, transceiver, self.participant_sid)
        self.downtracks[up.sid] = down
        self._by_ssrc[down.ssrc] = down
        up.attach(down)
        self._renegotiate()
        return down

    def remove(self, track_sid: TrackSid) -> bool:
        down = self.downtracks.pop(track_sid, None)
        if down is None:
            return False
        self._by_ssrc.pop(down.ssrc, None)
        down.close()
        if not self.closed:
            down.transceiver.direction = "inactive"
            self._renegotiate()
        return True

    def set_view(self, track_sid: TrackSid, view: tuple[int, int] | None, visible: bool) -> None:
        """What the subscriber shows of a track: its tile's size in device pixels (None:
        not told) and whether it is on screen. It receives the layer that size needs, and
        nothing while hidden."""
        down = self.downtracks.get(track_sid)
        if down is None:
            raise NotFound(f"this participant does not receive track {track_sid!r}")
        if down.kind != "video":
            raise InvalidArgument(f"track {track_sid!r} is not a video track")
        down.view = view
        down.up.place(down, visible)

    # -- negotiation -------------------------------------------------------------------

    def _renegotiate(self) -> None:
        self._needs_negotiation = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(
                self._negotiate(), name=f"negotiate-{self.participant_sid}"
            )

    async def _negotiate(self) -> None:
        while self._needs_negotiation and not self.closed:
            self._needs_negotiation = False
            try:
                await self._negotiate_once()
            except TimeoutError:
                logger.warning("subscriber %s did not answer in time", self.participant_sid)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("negotiation with subscriber %s failed", self.participant_sid)

    async def _negotiate_once(self) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        mids = {d.mid: str(d.track_sid) for d in self.downtracks.values() if d.mid is not None}
        self._answer = asyncio.get_running_loop().create_future()
        self.negotiations += 1
        await self._send_offer(self.pc.localDescription.sdp, mids)
        try:
            async with asyncio.timeout(self._answer_timeout):
                await asyncio.shield(self._answer)
        finally:
            self._answer = None

    async def handle_answer(self, sdp: str) -> None:
        """Apply the client's answer to the offer it was sent."""
        answer = self._answer
        if answer is None or answer.done():
            raise FailedPrecondition("no subscriber offer is waiting for an answer")
        try:
            sections = parse_sections(sdp)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        except Exception as exc:
            raise InvalidArgument(f"the subscriber answer was refused: {exc}") from None
        for down in self.downtracks.values():
            section = section_by_mid(sections, down.mid) if down.mid else None
            if section is None:
                continue
            transport = internals.transport_of(down.transceiver)
            internals.intercept_transport(transport, self._on_rtp, self._on_rtcp)
            down.configure(section, internals.writer_for(transport))
        if not answer.done():
            answer.set_result(None)

    # -- feedback from the subscriber ----------------------------------------------------

    async def _on_rtp(self, data: bytes, arrival_time_ms: int) -> None:
        return None  # a subscriber connection receives no media

    async def _on_rtcp(self, data: bytes) -> None:
        try:
            packets = rtcp.parse_compound(data)
        except ValueError:
            return
        by_ssrc = self._by_ssrc
        for packet in packets:
            if isinstance(packet, rtcp.PictureLoss):
                down = by_ssrc.get(packet.media_ssrc)
                if down is not None:
                    down.keyframe_requests_received += 1
                    down.request_keyframe()
            elif isinstance(packet, rtcp.FullIntraRequest):
                for ssrc, _ in packet.entries:
                    down = by_ssrc.get(ssrc)
                    if down is not None:
                        down.keyframe_requests_received += 1
                        down.request_keyframe()
            elif isinstance(packet, rtcp.Nack):
                down = by_ssrc.get(packet.media_ssrc)
                if down is not None:
                    self._nacked += len(packet.lost)
                    down.nacks_received += len(packet.lost)
                    down.retransmit(packet.lost)
            elif isinstance(packet, rtcp.Remb):
                self.link.on_remb(packet.bitrate)  # for the whole connection
                for ssrc in packet.ssrcs:
                    down = by_ssrc.get(ssrc)
                    if down is not None:
                        down.remb = packet.bitrate
            elif isinstance(packet, rtcp.ReceiverReport | rtcp.SenderReport):
                for block in packet.reports:
                    down = by_ssrc.get(block.ssrc)
                    if down is not None:
                        down.on_receiver_report(block)
                        if down.kind == "video":
                            self._losses.append(block.fraction_lost)
        self._allocate(time.monotonic())

    def _allocate(self, now: float) -> None:
        """Twice a second at most: update the link's estimate and share it out."""
        started, octets, packets = self._interval
        if now - started < ALLOCATE_EVERY:
            return
        total = sum(d.octets_sent for d in self.downtracks.values())
        count = sum(d.packets_sent for d in self.downtracks.values())
        self._interval = (now, total, count)
        seconds = now - started
        asked_again = self._nacked / max(1, count - packets)
        loss = max(max(self._losses, default=0) / 256, min(1.0, asked_again))
        self._losses.clear()
        self._nacked = 0
        self.link.on_interval(loss, max(0, total - octets) * 8 / seconds, seconds, now)
        allocate(list(self.downtracks.values()), self.link.budget)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for sid in list(self.downtracks):
            self.remove(sid)
        await cancel_and_wait(self._task)
        await self.pc.close()
