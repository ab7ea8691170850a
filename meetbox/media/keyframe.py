"""Keyframe detection on RTP payloads, per codec, without decoding."""

from __future__ import annotations

from dataclasses import dataclass

from meetbox.media.depacketize import vp8_descriptor_size, vp8_dimensions


def vp8_is_keyframe(payload: bytes | memoryview) -> bool:
    """True for the first packet of a VP8 key frame (RFC 7741 4.2 and 4.3)."""
    size = len(payload)
    if size < 1:
        return False
    first = payload[0]
    # S bit set and partition index 0: start of a frame
    if not first & 0x10 or first & 0x0F:
        return False
    pos = 1
    if first & 0x80:  # X: extended control bits
        if size < 2:
            return False
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: picture id
            if size <= pos:
                return False
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K
            pos += 1
    if size <= pos:
        return False
    # VP8 frame header, P bit: 0 = key frame (RFC 6386 9.1)
    return not payload[pos] & 0x01


def h264_is_keyframe(payload: bytes | memoryview) -> bool:
    """True when the payload starts an IDR picture or carries an SPS (RFC 6184 5)."""
    if len(payload) < 1:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type in (5, 7):
        return True
    if nal_type == 24:  # STAP-A
        pos = 1
        while pos + 2 < len(payload):
            size = payload[pos] << 8 | payload[pos + 1]
            if pos + 2 < len(payload) and payload[pos + 2] & 0x1F in (5, 7):
                return True
            pos += 2 + size
        return False
    if nal_type == 28:  # FU-A: start bit and the fragmented NAL's type
        return len(payload) >= 2 and bool(payload[1] & 0x80) and payload[1] & 0x1F in (5, 7)
    return False


def vp9_is_keyframe(payload: bytes | memoryview) -> bool:
    """True for a packet that begins a VP9 frame predicted from no earlier picture (the
    payload descriptor's B bit set, P clear: draft-ietf-payload-vp9 section 4.2). In SVC
    each spatial layer of a key picture begins so; they share its timestamp."""
    return len(payload) >= 1 and payload[0] & 0x48 == 0x08


def vp9_size(payload: bytes | memoryview) -> tuple[int, int] | None:
    """The largest spatial layer's width and height, from the scalability structure a
    keyframe's first packet carries (the V bit), else None."""
    size = len(payload)
    if size < 1 or not payload[0] & 0x02:
        return None
    first = payload[0]
    pos = 1
    if first & 0x80:  # I: picture id, 7 or 15 bits
        if size <= pos:
            return None
        pos += 2 if payload[pos] & 0x80 else 1
    if first & 0x20:  # L: layer indices, and TL0PICIDX in non-flexible mode
        pos += 1 if first & 0x10 else 2
    if first & 0x50 == 0x50:  # F and P: reference indices, until one without N
        while pos < size and payload[pos] & 0x01:
            pos += 1
        pos += 1
    if size <= pos:
        return None
    layers = (payload[pos] >> 5) + 1
    if not payload[pos] & 0x10:  # Y: no resolutions
        return None
    pos += 1
    end = pos + 4 * layers
    if size < end:
        return None
    width = payload[end - 4] << 8 | payload[end - 3]
    height = payload[end - 2] << 8 | payload[end - 1]
    return (width, height) if width and height else None


def av1_is_keyframe(payload: bytes | memoryview) -> bool:
    """True for the first packet of a new AV1 coded video sequence (the aggregation
    header's N bit, with Z clear: it begins an OBU), which starts with a key frame (the
    AV1 RTP specification, section 4.4)."""
    return len(payload) >= 1 and payload[0] & 0x88 == 0x08


def is_keyframe(mime_type: str, payload: bytes | memoryview) -> bool:
    """Per codec; audio codecs have no keyframes and always answer True."""
    mime = mime_type.lower()
    if mime == "video/vp8":
        return vp8_is_keyframe(payload)
    if mime == "video/h264":
        return h264_is_keyframe(payload)
    if mime == "video/vp9":
        return vp9_is_keyframe(payload)
    if mime == "video/av1":
        return av1_is_keyframe(payload)
    return not mime.startswith("video/")


def keyframe_size(mime_type: str, payload: bytes | memoryview) -> tuple[int, int] | None:
    """Width and height from the first packet of a keyframe, where the codec carries them
    there in clear (VP8's frame header); None otherwise."""
    if mime_type.lower() == "video/vp9":
        return vp9_size(payload)
    if mime_type.lower() != "video/vp8":
        return None
    try:
        start = vp8_descriptor_size(payload)
    except ValueError:
        return None
    return vp8_dimensions(bytes(payload[start : start + 10]))


@dataclass(frozen=True)
class KeyframePacing:
    """When one publisher track may be asked for a keyframe again.

    Requests are at least ``retry`` seconds apart: a subscriber's decoder that lost part
    of a keyframe asks for another, and a keyframe answered to every such request can
    itself be lost in part, and so on. A subscriber that has no picture yet (it joined, or
    its source changed) is the exception: once the last request was answered (a keyframe
    came after it) its request goes after ``min_interval``, so that a newcomer does not
    wait out a timer meant for lost requests.

    Each keyframe goes to every down-track of the track, so its cost grows with the room:
    a 75-packet keyframe to 600 subscribers is 45,000 packets of fan-out (and of receiving,
    for the subscribers). Requests are spaced so that keyframes add at most ``budget_pps``
    packets per second, up to ``max_interval`` apart: in a large room a newcomer waits
    longer for its first picture instead of everyone receiving a keyframe for each join.
    """

    retry: float = 0.3
    min_interval: float = 0.1
    max_interval: float = 3.0
    budget_pps: float = 20_000.0

    def spread(self, keyframe_packets: int, downtracks: int) -> float:
        """The room's share of the spacing, for a track whose last keyframe was
        ``keyframe_packets`` packets (0: not seen yet) and has ``downtracks`` down-tracks."""
        return min(self.max_interval, keyframe_packets * downtracks / self.budget_pps)

    def next_request_at(
        self,
        requested_at: float,
        keyframe_at: float,
        keyframe_packets: int,
        downtracks: int,
        first_picture: bool,
    ) -> float:
        """The earliest time of the next request, after one at ``requested_at`` and the
        last keyframe's arrival at ``keyframe_at``; ``first_picture``: the asker has none."""
        answered = keyframe_at >= requested_at
        floor = self.min_interval if first_picture and answered else self.retry
        return requested_at + max(floor, self.spread(keyframe_packets, downtracks))
