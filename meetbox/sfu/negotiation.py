"""What an SDP says about each m-section: codecs, header extensions, SSRCs, direction.

The SFU reads the negotiated values from the descriptions themselves (the answer it
produced for a publisher, the answer a subscriber returned) rather than from aiortc's
private transceiver state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aiortc import RTCRtpSender
from aiortc import sdp as aiortc_sdp
from aiortc.rtcrtpparameters import RTCRtpCodecCapability

URI_MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
URI_AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
URI_ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
URI_RID = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
URI_REPAIRED_RID = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
FORWARDED_EXTENSIONS = (URI_AUDIO_LEVEL, URI_ABS_SEND_TIME)
# simulcast layers one m-section may send (browsers send up to three)
MAX_LAYERS = 4
_RID = re.compile(r"[A-Za-z0-9_-]{1,16}")
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
    """aiortc's capabilities that negotiate exactly ``codec`` (and its RTX); for a codec
    only meetbox negotiates, its own capability."""
    if codec.mime_type.lower() in EXTRA_VIDEO:
        return [codec.capability()]
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


# forwarded without a decoder though aiortc has none: negotiated by meetbox itself
EXTRA_VIDEO = ("video/vp9", "video/av1")
# what every WebRTC endpoint decodes (RFC 7742): a subscriber that says nothing gets these
BASELINE_VIDEO = frozenset({"video/vp8", "video/h264"})


def supported(codec: Codec) -> bool:
    """aiortc can negotiate this codec (so meetbox can forward it), or meetbox does."""
    if codec.mime_type.lower() in EXTRA_VIDEO:
        return True
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


def simulcast_offer(text: str) -> dict[str, tuple[str, ...]]:
    """The RIDs each m-section's ``a=simulcast:send`` offers (RFC 8853), in its order, by
    mid; ``ValueError`` saying what is wrong. Sections without simulcast are left out.
    aiortc's parser drops these lines, so they are read from the text."""
    found: dict[str, tuple[str, ...]] = {}
    for section in re.split(r"\r?\n(?=m=)", text)[1:]:
        mid, declared, layers = "", set(), None
        for line in section.splitlines():
            if line.startswith("a=mid:"):
                mid = line[6:].strip()
            elif line.startswith("a=rid:"):
                parts = line[6:].split()
                if len(parts) >= 2 and parts[1] == "send":
                    declared.add(parts[0])
            elif line.startswith("a=simulcast:"):
                layers = _simulcast_send(line[12:].split())
        if layers is None:
            continue
        unknown = [rid for rid in layers if rid not in declared]
        if unknown:
            raise ValueError(f"sdp m-section {mid}: simulcast rid {unknown[0]!r} has no a=rid send")
        if layers:
            found[mid] = layers
    return found


def _simulcast_send(words: list[str]) -> tuple[str, ...]:
    layers: list[str] = []
    for direction, value in zip(words[::2], words[1::2], strict=False):
        if direction != "send":
            continue
        for alternatives in value.split(";"):
            rid = alternatives.split(",")[0].lstrip("~")  # the first choice; paused or not
            if not _RID.fullmatch(rid):
                raise ValueError(f"sdp simulcast rid {rid[:20]!r} is not 1-16 letters or digits")
            if rid in layers:
                raise ValueError(f"sdp simulcast rid {rid!r} appears twice")
            layers.append(rid)
    if len(layers) > MAX_LAYERS:
        raise ValueError(f"sdp offers {len(layers)} simulcast layers; at most {MAX_LAYERS}")
    return tuple(layers)


def answer_simulcast(answer: str, layers: dict[str, tuple[str, ...]]) -> str:
    """``answer`` with each simulcast m-section's ``a=rid:... recv`` and ``a=simulcast:recv``
    lines (aiortc writes none)."""
    if not layers:
        return answer
    newline = "\r\n" if "\r\n" in answer else "\n"
    head, *sections = re.split(r"\r?\n(?=m=)", answer.rstrip("\r\n"))
    out = [head]
    for section in sections:
        mids = [line[6:].strip() for line in section.splitlines() if line.startswith("a=mid:")]
        rids = layers.get(mids[0]) if mids and not section.startswith("m=video 0 ") else None
        if rids:
            lines = [f"a=rid:{rid} recv" for rid in rids]
            lines.append("a=simulcast:recv " + ";".join(rids))
            section = newline.join([section, *lines])
        out.append(section)
    return newline.join(out) + newline
