"""What an SDP says about each m-section: codecs, header extensions, SSRCs, direction.

The SFU reads the negotiated values from the descriptions themselves (the answer it
produced for a publisher, the answer a subscriber returned) rather than from aiortc's
private transceiver state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiortc import RTCRtpSender
from aiortc import sdp as aiortc_sdp
from aiortc.rtcrtpparameters import RTCRtpCodecCapability

URI_MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
URI_AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
URI_ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
FORWARDED_EXTENSIONS = (URI_AUDIO_LEVEL, URI_ABS_SEND_TIME)
MAX_SDP_BYTES = 64 * 1024
# m-sections in one publisher's offer: camera, microphone and screen shares, with room
MAX_PUBLISH_SECTIONS = 32


@dataclass(frozen=True)
class Codec:
    payload_type: int
    mime_type: str
    clock_rate: int
    channels: int | None
    parameters: dict[str, str | int | None] = field(default_factory=dict)
    rtx_payload_type: int | None = None
    feedback: tuple[str, ...] = ()

    def capability(self) -> RTCRtpCodecCapability:
        return RTCRtpCodecCapability(
            mimeType=self.mime_type,
            clockRate=self.clock_rate,
            channels=self.channels,
            parameters=dict(self.parameters),
        )

    def same_format(self, other: Codec) -> bool:
        """Same codec and, for H264, the same profile and packetization mode."""
        if self.mime_type.lower() != other.mime_type.lower() or self.clock_rate != other.clock_rate:
            return False
        if self.mime_type.lower() == "video/h264":
            keys = ("packetization-mode",)
            if any(str(self.parameters.get(k)) != str(other.parameters.get(k)) for k in keys):
                return False
            mine = str(self.parameters.get("profile-level-id", ""))[:4].lower()
            theirs = str(other.parameters.get("profile-level-id", ""))[:4].lower()
            return mine == theirs
        return True


@dataclass(frozen=True)
class MediaSection:
    index: int
    mid: str
    kind: str
    direction: str
    port: int
    codecs: tuple[Codec, ...]
    extensions: dict[str, int]
    ssrc: int | None
    rtx_ssrc: int | None
    msid: str | None

    @property
    def rejected(self) -> bool:
        return self.port == 0

    @property
    def sends(self) -> bool:
        """The side that wrote this section sends media in it."""
        return not self.rejected and self.direction in ("sendonly", "sendrecv")


def parse_sections(text: str, max_sections: int | None = None) -> list[MediaSection]:
    """The audio and video m-sections of an SDP; ``ValueError`` saying what is wrong.

    Size and (with ``max_sections``) the number of m-sections are checked on the text,
    before anything parses it, so an offer too large to answer is refused unapplied.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("sdp must be a non-empty string")
    try:
        size = len(text.encode())
    except UnicodeEncodeError:
        raise ValueError("sdp is not valid Unicode") from None
    if size > MAX_SDP_BYTES:
        raise ValueError(f"sdp is larger than {MAX_SDP_BYTES} bytes")
    if not text.lstrip().startswith("v=0"):
        raise ValueError("sdp must start with 'v=0'")
    if max_sections is not None:
        count = sum(1 for line in text.splitlines() if line.startswith("m="))
        if count > max_sections:
            raise ValueError(f"sdp has {count} m-sections; at most {max_sections} are accepted")
    try:
        description = aiortc_sdp.SessionDescription.parse(text)
    except Exception as exc:  # the parser raises whatever its input provokes
        raise ValueError(f"sdp does not parse: {exc!s}") from None
    sections = []
    for index, media in enumerate(description.media):
        if media.kind not in ("audio", "video"):
            continue
        mid = media.rtp.muxId
        if not mid:
            raise ValueError(f"sdp m-section {index} ({media.kind}) has no a=mid")
        sections.append(_section(index, media))
    return sections


def _section(index: int, media: aiortc_sdp.MediaDescription) -> MediaSection:
    rtx_for: dict[int, int] = {}
    primaries = []
    for codec in media.rtp.codecs:
        if codec.payloadType is None:
            raise ValueError(f"sdp m-section {index} has a codec without a payload type")
        if codec.mimeType.lower().endswith("/rtx"):
            apt = codec.parameters.get("apt")
            if apt is not None:
                rtx_for[int(apt)] = codec.payloadType
        else:
            primaries.append(codec)
    codecs = tuple(
        Codec(
            payload_type=int(c.payloadType or 0),
            mime_type=c.mimeType,
            clock_rate=c.clockRate,
            channels=c.channels,
            parameters=dict(c.parameters),
            rtx_payload_type=rtx_for.get(int(c.payloadType or 0)),
            feedback=tuple(
                f"{fb.type} {fb.parameter}" if fb.parameter else fb.type for fb in c.rtcpFeedback
            ),
        )
        for c in primaries
    )
    ssrc = media.ssrc[0].ssrc if media.ssrc else None
    rtx_ssrc = None
    for group in media.ssrc_group:
        if group.semantic == "FID" and len(group.items) == 2:
            ssrc, rtx_ssrc = int(group.items[0]), int(group.items[1])
    msid = media.msid
    if msid is None and media.ssrc and media.ssrc[0].msid:
        msid = media.ssrc[0].msid
    return MediaSection(
        index=index,
        mid=str(media.rtp.muxId),
        kind=media.kind,
        direction=media.direction or "sendrecv",
        port=media.port,
        codecs=codecs,
        extensions={ext.uri: ext.id for ext in media.rtp.headerExtensions},
        ssrc=ssrc,
        rtx_ssrc=rtx_ssrc,
        msid=msid,
    )


def capabilities_for(codec: Codec, kind: str) -> list[RTCRtpCodecCapability]:
    """aiortc's capabilities that negotiate exactly ``codec`` (and its RTX)."""
    found = [
        cap
        for cap in RTCRtpSender.getCapabilities(kind).codecs
        if codec.same_format(_from_capability(cap))
    ]
    if codec.rtx_payload_type is not None or kind == "video":
        found += [
            cap
            for cap in RTCRtpSender.getCapabilities(kind).codecs
            if cap.mimeType.lower().endswith("/rtx")
        ]
    return found


def supported(codec: Codec) -> bool:
    """aiortc can negotiate this codec (so meetbox can forward it)."""
    kind = codec.mime_type.split("/")[0].lower()
    if kind not in ("audio", "video"):
        return False
    return any(
        codec.same_format(_from_capability(cap))
        for cap in RTCRtpSender.getCapabilities(kind).codecs
    )


def _from_capability(cap: RTCRtpCodecCapability) -> Codec:
    return Codec(
        payload_type=0,
        mime_type=cap.mimeType,
        clock_rate=cap.clockRate,
        channels=cap.channels,
        parameters=dict(cap.parameters),
    )


def section_by_mid(sections: list[MediaSection], mid: str) -> MediaSection | None:
    return next((s for s in sections if s.mid == mid), None)
