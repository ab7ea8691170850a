"""RTP header parsing and rewriting against known bytes."""

from __future__ import annotations

import struct

import pytest

from meetbox.media.rtp import (
    RtpHeader,
    build_extensions,
    is_rtcp,
    parse_extensions,
    rewrite,
    unwrap_rtx,
    wrap_rtx,
)


def packet() -> bytes:
    return bytes.fromhex("90601234deadbeef11223344bede0002108a3201020300" + "00") + b"payload"


def test_parse_header_fields() -> None:
    data = packet()
    header = RtpHeader.parse(data)
    assert (header.payload_type, header.sequence_number, header.timestamp, header.ssrc) == (
        96,
        0x1234,
        0xDEADBEEF,
        0x11223344,
    )
    assert not header.marker
    assert header.extension_profile == 0xBEDE
    assert data[header.payload_start : header.payload_end] == b"payload"
    elements = parse_extensions(
        header.extension_profile, data[header.extension_start : header.extension_end]
    )
    assert elements == {1: b"\x8a", 3: b"\x01\x02\x03"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\x60", "RTP packet length is less than 12 bytes: 2"),
        (b"\x40" + bytes(11), "RTP packet has invalid version 1"),
        (b"\x90\x60" + bytes(10), "RTP packet extension header is truncated"),
        (b"\xa0\x60" + bytes(10) + b"\x00", "RTP packet padding length is invalid"),
        (b"\x8f\x60" + bytes(10), "RTP packet is shorter than its header"),
    ],
)
def test_parse_errors_are_precise(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(") + "$"):
        RtpHeader.parse(data)


def test_rewrite_changes_only_the_named_fields() -> None:
    data = packet()
    header = RtpHeader.parse(data)
    ext = build_extensions({2: b"\x8a", 5: b"1"})
    out = rewrite(
        data, header, payload_type=111, sequence_number=7, timestamp=9, ssrc=0xCAFE, extension=ext
    )
    again = RtpHeader.parse(out)
    assert (again.payload_type, again.sequence_number, again.timestamp, again.ssrc) == (
        111,
        7,
        9,
        0xCAFE,
    )
    assert out[again.payload_start :] == b"payload"
    assert parse_extensions(
        again.extension_profile, out[again.extension_start : again.extension_end]
    ) == {
        2: b"\x8a",
        5: b"1",
    }
    # no extension left: the X bit goes away
    bare = rewrite(
        data, header, payload_type=96, sequence_number=1, timestamp=2, ssrc=3, extension=b""
    )
    assert bare[0] & 0x10 == 0 and bare[12:] == b"payload"


def test_build_extensions_golden_bytes() -> None:
    assert build_extensions({}) == b""
    assert build_extensions({1: b"\x8a"}) == bytes.fromhex("bede0001 108a0000".replace(" ", ""))
    # an id above 14 needs the two-byte form (RFC 8285 4.3)
    assert build_extensions({20: b"ab"}) == bytes.fromhex("10000001 14026162".replace(" ", ""))


def test_rtx_round_trip() -> None:
    data = packet()
    header = RtpHeader.parse(data)
    rtx = wrap_rtx(data, header, ssrc=0x55, payload_type=97, sequence=1000)
    rtx_header = RtpHeader.parse(rtx)
    assert (rtx_header.ssrc, rtx_header.payload_type, rtx_header.sequence_number) == (
        0x55,
        97,
        1000,
    )
    assert struct.unpack_from("!H", rtx, rtx_header.payload_start)[0] == 0x1234
    original, original_header = unwrap_rtx(rtx, rtx_header, ssrc=0x11223344, payload_type=96)
    assert original == data
    assert original_header.sequence_number == 0x1234


def test_is_rtcp() -> None:
    assert is_rtcp(bytes([0x80, 200]))
    assert not is_rtcp(packet())
