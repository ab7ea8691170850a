"""Encoded frames back out of RTP payloads, per codec, without decoding.

VP8 (RFC 7741 section 4): strip the payload descriptor; a frame is the concatenation of
its packets. H.264 (RFC 6184 section 5): single NAL units, STAP-A and FU-A become
Annex B byte streams. Opus (RFC 7587): one packet is one frame.
"""

from __future__ import annotations

from meetbox.media.av1 import av1_frame

START_CODE = b"\x00\x00\x00\x01"


def vp8_descriptor_size(payload: bytes | memoryview) -> int:
    """Length of the VP8 payload descriptor; raises ValueError when truncated."""
    size = len(payload)
    if size < 1:
        raise ValueError("empty VP8 payload")
    pos = 1
    if payload[0] & 0x80:  # X
        if size < 2:
            raise ValueError("VP8 payload descriptor is truncated")
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: picture id, 7 or 15 bits
            if size <= pos:
                raise ValueError("VP8 picture id is truncated")
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # L
            pos += 1
        if ext & 0x30:  # T or K
            pos += 1
    if pos > size:
        raise ValueError("VP8 payload descriptor is truncated")
    return pos


def vp8_starts_frame(payload: bytes | memoryview) -> bool:
    """S bit with partition index 0: the first packet of a frame."""
    return len(payload) > 0 and bool(payload[0] & 0x10) and not payload[0] & 0x0F


def vp8_dimensions(frame: bytes) -> tuple[int, int] | None:
    """Width and height of a VP8 key frame (RFC 6386 section 9.1), None for others."""
    if len(frame) < 10 or frame[0] & 0x01 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    width = (frame[6] | frame[7] << 8) & 0x3FFF
    height = (frame[8] | frame[9] << 8) & 0x3FFF
    return width, height


def vp9_dimensions(frame: bytes) -> tuple[int, int] | None:
    """Width and height of a VP9 key frame from its uncompressed header (VP9 bitstream
    specification, section 6.2), None for others."""
    bits = int.from_bytes(frame[:12], "big")
    total = 8 * min(len(frame), 12)
    pos = 0

    def read(count: int) -> int:
        nonlocal pos
        pos += count
        if pos > total:
            raise ValueError("short")
        return (bits >> (total - pos)) & ((1 << count) - 1)

    try:
        if read(2) != 2:  # frame marker
            return None
        profile = read(1) | read(1) << 1
        if profile == 3:
            read(1)
        if read(1) or read(1):  # show an existing frame; not a key frame
            return None
        read(2)  # show_frame, error_resilient_mode
        if read(24) != 0x498342:  # sync code
            return None
        if profile >= 2:
            read(1)  # ten or twelve bit
        if read(3) != 7:  # colour space other than sRGB: a range, and subsampling
            read(1)
            if profile in (1, 3):
                read(3)
        elif profile in (1, 3):
            read(1)
        return read(16) + 1, read(16) + 1
    except ValueError:
        return None


def vp9_descriptor_size(payload: bytes | memoryview) -> int:
    """Length of the VP9 payload descriptor (draft-ietf-payload-vp9 section 4.2), with its
    scalability structure; raises ValueError when truncated."""
    size = len(payload)
    if size < 1:
        raise ValueError("empty VP9 payload")
    first = payload[0]
    pos = 1
    if first & 0x80:  # I: picture id
        if size <= pos:
            raise ValueError("VP9 picture id is truncated")
        pos += 2 if payload[pos] & 0x80 else 1
    if first & 0x20:  # L: layer indices (and TL0PICIDX when not flexible)
        pos += 1 if first & 0x10 else 2
    if first & 0x50 == 0x50:  # F and P: reference indices
        while pos < size and payload[pos] & 0x01:
            pos += 1
        pos += 1
    if first & 0x02:  # V: scalability structure
        if size <= pos:
            raise ValueError("VP9 scalability structure is truncated")
        ss = payload[pos]
        pos += 1
        if ss & 0x10:  # Y: a width and height per spatial layer
            pos += 4 * ((ss >> 5) + 1)
        if ss & 0x08:  # G: picture group description
            if size <= pos:
                raise ValueError("VP9 picture group is truncated")
            count = payload[pos]
            pos += 1
            for _ in range(count):
                if size <= pos:
                    raise ValueError("VP9 picture group is truncated")
                pos += 1 + ((payload[pos] >> 2) & 0x03)
    if pos > size:
        raise ValueError("VP9 payload descriptor is truncated")
    return pos


def depacketize(mime_type: str, payload: bytes) -> bytes:
    """The bytes this packet adds to its frame; raises ValueError for a malformed one."""
    mime = mime_type.lower()
    if mime == "video/vp8":
        return payload[vp8_descriptor_size(payload) :]
    if mime == "video/h264":
        return _h264(payload)
    if mime == "video/vp9":  # one layer: the frame is its packets' payloads end to end
        return payload[vp9_descriptor_size(payload) :]
    return payload


def depacketize_frame(mime_type: str, payloads: list[bytes]) -> bytes:
    """One frame from its packets' payloads, in order; raises ValueError when malformed.
    AV1's OBUs may span packets, so its frame is built from all of them at once."""
    if mime_type.lower() == "video/av1":
        return av1_frame(payloads)
    return b"".join(depacketize(mime_type, p) for p in payloads)


def _h264(payload: bytes) -> bytes:
    if not payload:
        raise ValueError("empty H.264 payload")
    nal_type = payload[0] & 0x1F
    if 1 <= nal_type <= 23:
        return START_CODE + payload
    if nal_type == 24:  # STAP-A: 16-bit sizes, then the units
        out = bytearray()
        pos = 1
        while pos + 2 <= len(payload):
            size = payload[pos] << 8 | payload[pos + 1]
            pos += 2
            if size == 0 or pos + size > len(payload):
                raise ValueError("H.264 STAP-A unit overruns the packet")
            out += START_CODE + payload[pos : pos + size]
            pos += size
        return bytes(out)
    if nal_type == 28:  # FU-A
        if len(payload) < 2:
            raise ValueError("H.264 FU-A is truncated")
        fu = payload[1]
        if fu & 0x80:  # start: rebuild the NAL header from the indicator and the FU header
            return START_CODE + bytes([(payload[0] & 0xE0) | (fu & 0x1F)]) + payload[2:]
        return payload[2:]
    raise ValueError(f"H.264 packetisation type {nal_type} is not supported")


def h264_starts_frame(payload: bytes) -> bool:
    """Conservative: a NAL unit, an aggregate or the first fragment begins here."""
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type == 28:
        return len(payload) > 1 and bool(payload[1] & 0x80)
    return True


def starts_frame(mime_type: str, payload: bytes) -> bool:
    mime = mime_type.lower()
    if mime == "video/vp8":
        return vp8_starts_frame(payload)
    if mime == "video/h264":
        return h264_starts_frame(payload)
    if mime == "video/vp9":
        return bool(payload) and bool(payload[0] & 0x08)  # B: beginning of a frame
    if mime == "video/av1":
        return bool(payload) and not payload[0] & 0x80  # Z clear: it begins an OBU
    return True
