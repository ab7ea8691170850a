"""RTP header view and rewriting (RFC 3550 section 5.1, RFC 8285 header extensions)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_HEADER = struct.Struct("!BBHII")
ONE_BYTE_PROFILE = 0xBEDE
TWO_BYTE_PROFILE_MASK = 0xFFF0
TWO_BYTE_PROFILE = 0x1000


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 section 4: RTCP packet types 192-223 share the port with RTP."""
    return len(data) >= 2 and 192 <= data[1] <= 223


@dataclass(slots=True)
class RtpHeader:
    """The fixed header and where the parts of one RTP packet are."""

    marker: bool
    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    csrc_end: int
    extension_profile: int
    extension_start: int
    extension_end: int
    payload_start: int
    payload_end: int

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> RtpHeader:
        size = len(data)
        if size < 12:
            raise ValueError(f"RTP packet length is less than 12 bytes: {size}")
        first, second, seq, ts, ssrc = RTP_HEADER.unpack_from(data)
        if first >> 6 != 2:
            raise ValueError(f"RTP packet has invalid version {first >> 6}")
        pos = 12 + (first & 0x0F) * 4
        csrc_end = pos
        profile = 0
        ext_start = ext_end = pos
        if first & 0x10:
            if pos + 4 > size:
                raise ValueError("RTP packet extension header is truncated")
            profile, words = struct.unpack_from("!HH", data, pos)
            ext_start = pos + 4
            ext_end = ext_start + words * 4
            pos = ext_end
        payload_end = size
        if first & 0x20:
            padding = data[size - 1] if size > pos else 0
            if padding == 0 or padding > size - pos:
                raise ValueError("RTP packet padding length is invalid")
            payload_end = size - padding
        if pos > size:
            raise ValueError("RTP packet is shorter than its header")
        return cls(
            marker=bool(second & 0x80),
            payload_type=second & 0x7F,
            sequence_number=seq,
            timestamp=ts,
            ssrc=ssrc,
            csrc_end=csrc_end,
            extension_profile=profile,
            extension_start=ext_start,
            extension_end=ext_end,
            payload_start=pos,
            payload_end=payload_end,
        )


def parse_extensions(profile: int, block: bytes | bytearray | memoryview) -> dict[int, bytes]:
    """Elements of a one-byte or two-byte header extension block (RFC 8285 4.2, 4.3)."""
    elements: dict[int, bytes] = {}
    pos = 0
    end = len(block)
    if profile == ONE_BYTE_PROFILE:
        while pos < end:
            byte = block[pos]
            if byte == 0:  # padding
                pos += 1
                continue
            ext_id = byte >> 4
            length = (byte & 0x0F) + 1
            if ext_id == 15:  # reserved: stop parsing (RFC 8285 4.2)
                break
            pos += 1
            if pos + length > end:
                raise ValueError("RTP one-byte header extension is truncated")
            elements[ext_id] = bytes(block[pos : pos + length])
            pos += length
    elif profile & TWO_BYTE_PROFILE_MASK == TWO_BYTE_PROFILE:
        while pos < end:
            ext_id = block[pos]
            if ext_id == 0:
                pos += 1
                continue
            if pos + 2 > end:
                raise ValueError("RTP two-byte header extension is truncated")
            length = block[pos + 1]
            pos += 2
            if pos + length > end:
                raise ValueError("RTP two-byte header extension is truncated")
            elements[ext_id] = bytes(block[pos : pos + length])
            pos += length
    return elements


def extension_elements(data: bytes | bytearray, header: RtpHeader) -> dict[int, bytes]:
    """The packet's header extension elements; empty when it has none or they are malformed."""
    if not header.extension_profile:
        return {}
    try:
        return parse_extensions(
            header.extension_profile, data[header.extension_start : header.extension_end]
        )
    except ValueError:
        return {}


def build_extensions(elements: dict[int, bytes]) -> bytes:
    """The extension header (profile, length and padded block); empty for no elements."""
    if not elements:
        return b""
    one_byte = all(1 <= i <= 14 and 1 <= len(v) <= 16 for i, v in elements.items())
    parts = bytearray()
    if one_byte:
        for ext_id, value in elements.items():
            parts.append((ext_id << 4) | (len(value) - 1))
            parts += value
        profile = ONE_BYTE_PROFILE
    else:
        for ext_id, value in elements.items():
            if not 1 <= ext_id <= 255 or len(value) > 255:
                raise ValueError(f"RTP header extension {ext_id} cannot be encoded")
            parts.append(ext_id)
            parts.append(len(value))
            parts += value
        profile = TWO_BYTE_PROFILE
    parts += b"\x00" * (-len(parts) % 4)
    return struct.pack("!HH", profile, len(parts) // 4) + bytes(parts)


def rewrite_tail(data: bytes | bytearray, header: RtpHeader, extension: bytes) -> tuple[int, bytes]:
    """The first header byte and everything after the fixed header (CSRCs, ``extension``,
    payload and padding) of a rewritten packet.

    The forwarding path builds this once per packet and extension layout; each
    down-track writes its own fixed header before it (:func:`with_fixed_header` makes the
    whole packet as bytes).
    """
    first = (data[0] & 0xEF) | (0x10 if extension else 0)
    if header.csrc_end == 12:
        return first, extension + data[header.payload_start :]
    return first, b"".join((data[12 : header.csrc_end], extension, data[header.payload_start :]))


def with_fixed_header(
    first: int,
    tail: bytes,
    marker: bool,
    payload_type: int,
    sequence_number: int,
    timestamp: int,
    ssrc: int,
) -> bytes:
    """A packet from :func:`rewrite_tail`'s parts and the down-track's own header fields."""
    second = (0x80 if marker else 0) | payload_type
    return _pack_fixed(first, second, sequence_number, timestamp, ssrc) + tail


_pack_fixed = RTP_HEADER.pack


def rewrite(
    data: bytes | bytearray,
    header: RtpHeader,
    *,
    payload_type: int,
    sequence_number: int,
    timestamp: int,
    ssrc: int,
    extension: bytes,
) -> bytes:
    """The packet with a new PT, sequence number, timestamp, SSRC and extension header.

    ``extension`` is the complete extension header from :func:`build_extensions` (or
    empty). CSRCs, payload and padding are kept as they are.
    """
    first, tail = rewrite_tail(data, header, extension)
    return with_fixed_header(
        first, tail, header.marker, payload_type, sequence_number, timestamp, ssrc
    )


def unwrap_rtx(
    data: bytes | bytearray, header: RtpHeader, *, ssrc: int, payload_type: int
) -> tuple[bytes, RtpHeader]:
    """An RTX packet (RFC 4588 section 4) turned back into the packet it repairs."""
    if header.payload_end - header.payload_start < 2:
        raise ValueError("RTX packet has no original sequence number")
    osn = struct.unpack_from("!H", data, header.payload_start)[0]
    fixed = RTP_HEADER.pack(
        data[0], (0x80 if header.marker else 0) | payload_type, osn, header.timestamp, ssrc
    )
    packet = b"".join((fixed, data[12 : header.payload_start], data[header.payload_start + 2 :]))
    return packet, RtpHeader.parse(packet)


def wrap_rtx(
    data: bytes | bytearray, header: RtpHeader, *, ssrc: int, payload_type: int, sequence: int
) -> bytes:
    """An RTX packet (RFC 4588 section 4) carrying ``data``; padding is dropped."""
    first = data[0] & 0xDF
    fixed = RTP_HEADER.pack(
        first, (0x80 if header.marker else 0) | payload_type, sequence, header.timestamp, ssrc
    )
    return b"".join(
        (
            fixed,
            data[12 : header.payload_start],
            struct.pack("!H", header.sequence_number),
            data[header.payload_start : header.payload_end],
        )
    )
