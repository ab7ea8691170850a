"""Where a client's received RTP can go instead of aiortc's receivers: a sink that
counts it (the load generator's subscribers), without decoding."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from aiortc import RTCPeerConnection

from meetbox.sfu import aiortc as internals


class RtpSink(Protocol):
    """Takes RTP packets as they arrive (e.g. :class:`meetbox.media.rtpcount.RtpCounter`)."""

    payload_kinds: dict[int, str]  # filled by the client: payload type -> "audio" | "video"

    def add(self, data: bytes, arrival_ms: int) -> None: ...


@runtime_checkable
class ProtectedRtpSink(RtpSink, Protocol):
    """An :class:`RtpSink` that can also count SRTP packets by their clear headers."""

    def add_protected(self, data: bytes, tag_length: int) -> None: ...


def sink_media(pc: RTCPeerConnection, sink: RtpSink) -> None:
    """Hand the RTP a peer connection receives to ``sink`` instead of aiortc's receivers
    (call it after setRemoteDescription, before the transport connects)."""
    kinds: dict[int, str] = {}
    for transceiver in pc.getTransceivers():
        internals.park_receiver(transceiver.receiver)
        for codec in internals.codecs_of(transceiver):
            if codec.payloadType is None:
                continue
            rtx = codec.mimeType.lower().endswith("/rtx")
            kinds[codec.payloadType] = "rtx" if rtx else transceiver.kind
    sink.payload_kinds.update(kinds)

    async def on_rtp(data: bytes, arrival_ms: int) -> None:
        sink.add(data, arrival_ms)

    async def no_rtcp(data: bytes) -> None:
        return None

    for transceiver in pc.getTransceivers():
        internals.intercept_transport(internals.transport_of(transceiver), on_rtp, no_rtcp)
