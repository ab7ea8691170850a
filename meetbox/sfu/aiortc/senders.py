"""Small touches on aiortc's senders and transceivers: their SSRCs and stream ids, their
sender reports silenced, their negotiated codecs, keyframe requests for pre-encoded media."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpSender, RTCRtpTransceiver
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters


def silence_sender_reports(sender: RTCRtpSender) -> None:
    """Stop aiortc's own SR/SDES/BYE for this sender: its counters know nothing of
    what meetbox forwards, and wrong SRs would break lip sync at the subscriber."""

    async def drop(packets: list[Any]) -> None:
        return None

    sender._send_rtcp = drop  # type: ignore[method-assign]


def sender_ssrcs(sender: RTCRtpSender) -> tuple[int, int]:
    """(media SSRC, RTX SSRC) that aiortc writes into the SDP for this sender."""
    return sender._ssrc, sender._rtx_ssrc


def set_sender_stream(sender: RTCRtpSender, stream_id: str, track_id: str) -> None:
    """The ``a=msid`` of the sender's m-section: stream = participant, track = track."""
    sender._stream_id = stream_id
    sender._track_id = track_id


def accept_header_extensions(transceiver: RTCRtpTransceiver, offered: dict[str, int]) -> None:
    """Answer ``offered`` header extensions (uri -> id) aiortc does not know (the simulcast
    RID extensions) in this transceiver's answer: call between setRemoteDescription and
    createAnswer."""
    known = {ext.uri for ext in transceiver._headerExtensions}
    for uri, ext_id in offered.items():
        if uri not in known:
            transceiver._headerExtensions.append(
                RTCRtpHeaderExtensionParameters(id=ext_id, uri=uri)
            )


def transport_of(transceiver: RTCRtpTransceiver) -> RTCDtlsTransport:
    transport: RTCDtlsTransport = transceiver.receiver.transport
    return transport


def codecs_of(transceiver: RTCRtpTransceiver) -> list[Any]:
    """The codecs negotiated for ``transceiver`` (aiortc keeps them private)."""
    return list(transceiver._codecs)


def answer_keyframe_requests(sender: RTCRtpSender, restart: Callable[[], None]) -> None:
    """Calls ``restart`` on a keyframe request (PLI, FIR) instead of aiortc's encoder:
    for a sender of pre-encoded media, which aiortc would otherwise ignore."""
    sender._send_keyframe = restart  # type: ignore[method-assign]
