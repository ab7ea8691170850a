"""Codecs aiortc cannot encode or decode but meetbox forwards (VP9, AV1): negotiated on
the server's own transceivers only, so that an aiortc client in the same process never
agrees to media it could not decode.

On a publisher connection ``accept_offered_codecs`` sets the transceiver's codecs from the
offer after setRemoteDescription (aiortc kept only those it knows); on a subscriber
connection ``prefer_codecs`` sets preferences aiortc's own check would refuse, and the
wrapped ``filter_preferred_codecs`` turns them into the offer's codecs.
"""

from __future__ import annotations

import copy
from typing import Any

import aiortc.rtcpeerconnection as peerconnection
from aiortc import RTCRtpTransceiver
from aiortc import sdp as aiortc_sdp
from aiortc.rtcrtpparameters import (
    RTCRtcpFeedback,
    RTCRtpCodecCapability,
    RTCRtpCodecParameters,
)

# forwarded, never decoded: the payload types the server offers them with
EXTRA_CODECS = {"video/vp9": (103, 104), "video/av1": (105, 106)}
FEEDBACK = [
    RTCRtcpFeedback(type="nack"),
    RTCRtcpFeedback(type="nack", parameter="pli"),
    RTCRtcpFeedback(type="goog-remb"),
]


def accept_offered_codecs(transceiver: RTCRtpTransceiver, offer: str, mime: str) -> None:
    """Answer this transceiver's m-section with the offer's codec of type ``mime`` (lower
    case; VP9's profile 0 first) and its RTX; nothing changes when none is offered. Call
    between setRemoteDescription and createAnswer."""
    mid = transceiver.mid
    media = next(
        (m for m in aiortc_sdp.SessionDescription.parse(offer).media if m.rtp.muxId == mid),
        None,
    )
    if media is None:
        return
    offered = [c for c in media.rtp.codecs if c.mimeType.lower() == mime]
    if not offered:
        return
    offered.sort(key=lambda c: str(c.parameters.get("profile-id", "0")) != "0")
    codec = copy.deepcopy(offered[0])
    codec.rtcpFeedback = [fb for fb in FEEDBACK if fb in offered[0].rtcpFeedback]
    rtx = [
        copy.deepcopy(c)
        for c in media.rtp.codecs
        if c.mimeType.lower() == "video/rtx" and c.parameters.get("apt") == codec.payloadType
    ]
    transceiver._codecs = [codec, *rtx]


def prefer_codecs(transceiver: RTCRtpTransceiver, codecs: list[RTCRtpCodecCapability]) -> None:
    """``setCodecPreferences`` that also takes the codecs meetbox forwards but aiortc
    does not know."""
    if any(c.mimeType.lower() in EXTRA_CODECS for c in codecs):
        transceiver._preferred_codecs = list(codecs)
    else:
        transceiver.setCodecPreferences(codecs)


_original_filter = peerconnection.filter_preferred_codecs


def _filter_preferred_codecs(
    codecs: list[RTCRtpCodecParameters], preferred: list[RTCRtpCodecCapability]
) -> list[RTCRtpCodecParameters]:
    extra = [p for p in preferred if p.mimeType.lower() in EXTRA_CODECS]
    if not extra:
        return _original_filter(codecs, preferred)
    out: list[RTCRtpCodecParameters] = []
    for pref in extra:
        payload_type, rtx_type = EXTRA_CODECS[pref.mimeType.lower()]
        out.append(
            RTCRtpCodecParameters(
                mimeType=pref.mimeType,
                clockRate=pref.clockRate,
                payloadType=payload_type,
                rtcpFeedback=list(FEEDBACK),
                parameters=dict(pref.parameters),
            )
        )
        out.append(
            RTCRtpCodecParameters(
                mimeType="video/rtx",
                clockRate=pref.clockRate,
                payloadType=rtx_type,
                parameters={"apt": payload_type},
            )
        )
    return out


def install_codecs() -> None:
    """Wrap aiortc's preference filter (once): see the module's note."""
    if getattr(peerconnection.filter_preferred_codecs, "_meetbox", False):
        return
    wrapped: Any = _filter_preferred_codecs
    wrapped._meetbox = True
    peerconnection.filter_preferred_codecs = wrapped
