"""Property-based fuzzing of the parsers a remote peer feeds: RTP, RTCP, SDP and payload
headers. Malformed input raises ``ValueError`` with a message, or parses; nothing else.

Bounded in ``make test``; ``pytest --fuzz-examples=N`` runs longer.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meetbox import jsonbounds
from meetbox.media import rtcp
from meetbox.media.depacketize import depacketize, starts_frame, vp8_dimensions
from meetbox.media.keyframe import is_keyframe
from meetbox.media.rtp import RtpHeader, extension_elements, parse_extensions, unwrap_rtx
from meetbox.sfu.negotiation import parse_sections


def fuzz_settings(request: pytest.FixtureRequest) -> settings:
    examples = int(request.config.getoption("fuzz_examples"))
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=examples <= 1000,  # the bounded run is the same every time
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        database=None,
    )


def rtp_like() -> st.SearchStrategy[bytes]:
    """Bytes that often get past the first checks: version 2, a plausible header."""
    header = st.builds(
        lambda first, second, rest: bytes([first, second]) + rest,
        st.integers(0, 255).map(lambda b: (b & 0x3F) | 0x80),
        st.integers(0, 255),
        st.binary(min_size=0, max_size=80),
    )
    return st.one_of(st.binary(max_size=120), header)


def rtcp_like() -> st.SearchStrategy[bytes]:
    packet = st.builds(
        lambda count, ptype, words, body: struct.pack("!BBH", 0x80 | count, ptype, words) + body,
        st.integers(0, 31),
        st.sampled_from([200, 201, 202, 203, 205, 206, 204, 207, 0, 255]),
        st.integers(0, 40),
        st.binary(max_size=100),
    )
    return st.one_of(st.binary(max_size=120), st.lists(packet, max_size=4).map(b"".join))


def sdp_like() -> st.SearchStrategy[str]:
    lines = st.sampled_from(
        [
            "v=0",
            "o=- 1 1 IN IP4 127.0.0.1",
            "s=-",
            "t=0 0",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111",
            "m=video 9 UDP/TLS/RTP/SAVPF 96 97",
            "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
            "c=IN IP4 0.0.0.0",
            "a=mid:0",
            "a=mid:",
            "a=sendonly",
            "a=rtpmap:111 opus/48000/2",
            "a=rtpmap:96 VP8/90000",
            "a=rtpmap:97 rtx/90000",
            "a=fmtp:97 apt=96",
            "a=fmtp:97 apt=x",
            "a=rtpmap:x",
            "a=ssrc:1 cname:a",
            "a=ssrc-group:FID 1",
            "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
            "a=extmap:x",
            "a=rtcp-fb:96 nack",
            "a=ice-ufrag:abcd",
            "a=fingerprint:sha-256 00",
            "a=setup:actpass",
            "a=candidate:1 1 udp 1 127.0.0.1 9 typ host",
        ]
    )
    structured = st.lists(st.one_of(lines, st.text(max_size=30)), max_size=40).map(
        lambda ls: "\r\n".join(["v=0", *ls]) + "\r\n"
    )
    return st.one_of(st.text(max_size=200), structured)


def check_rtp(data: bytes) -> None:
    try:
        header = RtpHeader.parse(data)
    except ValueError as exc:
        assert str(exc)
        return
    for profile in (0xBEDE, 0x1000, 0x1234):
        try:
            parse_extensions(profile, data[12:])
        except ValueError as exc:
            assert str(exc)
    try:
        extension_elements(data, header)
        unwrap_rtx(data, header, ssrc=1234, payload_type=96)
    except ValueError as exc:
        assert str(exc)
    payload = data[min(len(data), 12) :]
    for mime in ("video/VP8", "video/H264", "audio/opus"):
        try:
            is_keyframe(mime, payload)
            starts_frame(mime, payload)
            depacketize(mime, payload)
        except ValueError as exc:
            assert str(exc)
    vp8_dimensions(payload)


def check_rtcp(data: bytes) -> None:
    try:
        packets = rtcp.parse_compound(data)
    except ValueError as exc:
        assert str(exc)
        return
    try:
        rtcp.serialize_compound(packets)
    except ValueError as exc:
        assert str(exc)


def check_sdp(text: str) -> None:
    try:
        parse_sections(text, 32)
    except ValueError as exc:
        assert str(exc)


def check_json(text: str) -> None:
    try:
        jsonbounds.loads(text)
    except ValueError as exc:
        assert str(exc)


def test_rtp_and_payload_parsers_raise_only_value_errors(request: pytest.FixtureRequest) -> None:
    fuzz_settings(request)(given(rtp_like())(check_rtp))()


def test_rtcp_parser_raises_only_value_errors(request: pytest.FixtureRequest) -> None:
    fuzz_settings(request)(given(rtcp_like())(check_rtcp))()


def test_sdp_parser_raises_only_value_errors(request: pytest.FixtureRequest) -> None:
    fuzz_settings(request)(given(sdp_like())(check_sdp))()


def test_the_bounded_json_parser_raises_only_value_errors(request: pytest.FixtureRequest) -> None:
    nested = st.integers(0, 5000).map(lambda n: "[" * n + "]" * n)
    numbers = st.integers(0, 500).map(lambda n: '{"a": ' + "9" * n + "}")
    fuzz_settings(request)(given(st.one_of(st.text(max_size=200), nested, numbers))(check_json))()
