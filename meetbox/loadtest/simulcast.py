"""A simulcast publisher for the load generator: pre-encoded layers sent as Chrome sends
its camera's (RFC 8853: one m-section, ``a=rid`` and ``a=simulcast``, no SSRC lines, each
layer's packets marked with the MID and RID header extensions).

aiortc sends one stream per transceiver and knows no RIDs, so the transceiver's own sender
stays idle (its track never yields a frame) and the layers go out through the connection's
transport here: each layer its own SSRC, sequence numbers and picture ids, all of them at
one capture clock. A keyframe request (PLI, FIR) for a layer's SSRC restarts that layer's
loop at its keyframe; the server's ``layers`` event (dynacast) pauses the layers nobody
receives and resumes the others, each at its keyframe, as a browser's encoder does.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Any

from aiortc import MediaStreamTrack

from meetbox.client import Client
from meetbox.loadtest.clip import Clip
from meetbox.media.packetize import RtpStream, vp8_payloads
from meetbox.media.rtcp import FullIntraRequest, PictureLoss, parse_compound
from meetbox.media.rtp import build_extensions
from meetbox.sfu import aiortc as internals
from meetbox.sfu.negotiation import URI_MID, URI_RID, parse_sections, section_by_mid
from meetbox.tracks import Pacer

logger = logging.getLogger(__name__)

# ids for the RID extension in the offer (aiortc's own extensions take 1 to 3)
RID_EXTENSION_ID = 10
VIDEO_CLOCK = 90000


def offer_layers(sdp: str, mid: str, rids: list[str]) -> str:
    """``sdp`` with the m-section ``mid`` offering ``rids`` (smallest first) as simulcast
    layers: its SSRC lines gone (the layers' SSRCs are learnt from the RID extension) and
    the RID extension, ``a=rid:<rid> send`` and ``a=simulcast:send`` added."""
    sections = sdp.split("\r\nm=")
    for i, section in enumerate(sections):
        lines = section.split("\r\n")
        if f"a=mid:{mid}" not in lines:
            continue
        ssrc_lines = ("a=ssrc:", "a=ssrc-group:")
        kept = [line for line in lines if line and not line.startswith(ssrc_lines)]
        kept.append(f"a=extmap:{RID_EXTENSION_ID} {URI_RID}")
        kept += [f"a=rid:{rid} send" for rid in rids]
        kept.append("a=simulcast:send " + ";".join(rids))
        sections[i] = "\r\n".join(kept) + ("\r\n" if i == len(sections) - 1 else "")
        return "\r\nm=".join(sections)
    raise ValueError(f"the offer has no m-section with mid {mid}")


class _Idle(MediaStreamTrack):
    """The transceiver's own track: it never yields a frame (the layers go around it)."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._never = asyncio.Event()

    async def recv(self) -> Any:
        await self._never.wait()
        raise asyncio.CancelledError


@dataclass
class _Layer:
    rid: str
    clip: Clip
    stream: RtpStream | None = None
    index: int = 0  # the next frame of the clip
    picture_id: int = 0
    active: bool = True
    keyframe_requests: int = 0

    def restart(self) -> None:
        self.index = 0


class SimulcastPublisher:
    """Publishes ``layers`` ((rid, clip) pairs, smallest first, VP8, one frame rate) as
    one simulcast video through ``client``; ``close()`` stops sending."""

    def __init__(self, layers: list[tuple[str, Clip]]) -> None:
        if not layers:
            raise ValueError("a simulcast publisher needs at least one layer")
        self.layers = [_Layer(rid, clip) for rid, clip in layers]
        self.interval = layers[0][1].interval
        self.track_sid: str | None = None
        self.sent_packets = 0
        self._track = _Idle()
        self._task: asyncio.Task[None] | None = None
        self._by_ssrc: dict[int, _Layer] = {}

    async def publish(self, client: Client) -> str:
        rids = [layer.rid for layer in self.layers]
        sid = await client.publish(
            self._track, offer_filter=lambda sdp, mid: offer_layers(sdp, mid, rids)
        )
        self.track_sid = sid
        pc = client.publisher
        assert pc is not None and pc.remoteDescription is not None
        transceiver = next(t for t in pc.getTransceivers() if t.sender.track is self._track)
        assert transceiver.mid is not None
        section = section_by_mid(parse_sections(pc.remoteDescription.sdp), transceiver.mid)
        if section is None or URI_RID not in section.extensions:
            raise RuntimeError("the server did not answer the simulcast layers")
        vp8 = next((c for c in section.codecs if c.mime_type.lower() == "video/vp8"), None)
        if vp8 is None:
            raise RuntimeError("the server did not answer VP8")
        mid_id, rid_id = section.extensions.get(URI_MID), section.extensions[URI_RID]
        for layer in self.layers:
            elements = {rid_id: layer.rid.encode()}
            if mid_id is not None:
                elements[mid_id] = transceiver.mid.encode()
            ssrc = random.getrandbits(32)
            layer.stream = RtpStream(
                ssrc, vp8.payload_type, random.getrandbits(16), build_extensions(elements)
            )
            layer.picture_id = random.getrandbits(15)
            self._by_ssrc[ssrc] = layer
        transport = internals.transport_of(transceiver)
        internals.silence_sender_reports(transceiver.sender)
        internals.observe_received_rtcp(transport, self._on_rtcp)
        client.on("layers", self._on_layers)
        self._task = asyncio.create_task(self._send(internals.writer_for(transport)))
        return sid

    def _on_rtcp(self, data: bytes) -> None:
        try:
            packets = parse_compound(data)
        except ValueError:
            return
        for packet in packets:
            targets: list[int] = []
            if isinstance(packet, PictureLoss):
                targets = [packet.media_ssrc]
            elif isinstance(packet, FullIntraRequest):
                targets = [ssrc for ssrc, _ in packet.entries]
            for ssrc in targets:
                layer = self._by_ssrc.get(ssrc)
                if layer is not None:
                    layer.keyframe_requests += 1
                    layer.restart()

    def _on_layers(self, data: Any) -> None:
        if not isinstance(data, dict) or data.get("track_sid") != self.track_sid:
            return
        active = set(data.get("active") or ())
        for layer in self.layers:
            resumed = layer.rid in active and not layer.active
            layer.active = layer.rid in active
            if resumed:
                layer.restart()  # an encoder that resumes starts with a keyframe

    async def _send(self, writer: Any) -> None:
        pacer = Pacer(self.interval, drop_late=True)
        step = round(self.interval * VIDEO_CLOCK)
        base = random.getrandbits(32)
        while True:
            count = await pacer.next()
            timestamp = base + count * step
            for layer in self.layers:
                if not layer.active or layer.stream is None:
                    continue
                frames = layer.clip.frames
                frame = frames[layer.index % len(frames)]
                layer.index = (layer.index + 1) % len(frames)
                layer.picture_id = (layer.picture_id + 1) & 0x7FFF
                payloads = vp8_payloads(frame, layer.picture_id)
                for packet in layer.stream.packets(payloads, timestamp):
                    if writer.send(packet):
                        self.sent_packets += 1

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._track.stop()
