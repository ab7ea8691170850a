"""Keyframe detection on real encoder output; how often keyframes may be asked for."""

from __future__ import annotations

import fractions

import av
import pytest
from aiortc.codecs import get_encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from meetbox.media.keyframe import (
    KeyframePacing,
    h264_is_keyframe,
    is_keyframe,
    vp8_is_keyframe,
)
from meetbox.media.synthetic import counter_frame


def encode(mime: str, count: int) -> list[list[bytes]]:
    params: dict[str, str | int | None] = {}
    if mime == "video/H264":
        params = {"packetization-mode": "1", "profile-level-id": "42e01f"}
    encoder = get_encoder(
        RTCRtpCodecParameters(mimeType=mime, clockRate=90000, payloadType=96, parameters=params)
    )
    frames = []
    for n in range(count):
        frame = av.VideoFrame.from_ndarray(counter_frame(n), format="yuv420p")
        frame.pts = n * 3000
        frame.time_base = fractions.Fraction(1, 90000)
        payloads, _ = encoder.encode(frame, force_keyframe=False)
        frames.append(payloads)
    return frames


def test_vp8_first_frame_is_key_and_next_are_not() -> None:
    frames = encode("video/VP8", 3)
    assert vp8_is_keyframe(frames[0][0])
    assert not any(vp8_is_keyframe(p) for p in frames[0][1:])  # continuation packets
    assert not vp8_is_keyframe(frames[1][0])
    assert is_keyframe("video/vp8", frames[0][0])


def test_h264_idr_is_key() -> None:
    frames = encode("video/H264", 2)
    assert any(h264_is_keyframe(p) for p in frames[0])
    assert not any(h264_is_keyframe(p) for p in frames[1])


def test_audio_is_always_decodable() -> None:
    assert is_keyframe("audio/opus", b"\x00")


def test_keyframe_requests_are_spaced_by_the_room_and_sooner_for_a_first_picture() -> None:
    pacing = KeyframePacing(retry=0.3, min_interval=0.1, max_interval=3.0, budget_pps=20_000)
    assert pacing.spread(0, 1000) == 0.0  # no keyframe seen yet
    assert pacing.spread(75, 400) == pytest.approx(1.5)  # 30,000 packets: 1.5 s apart
    assert pacing.spread(75, 2000) == 3.0  # past the budget: the longest spacing
    assert pacing.spread(150, 400) == 2 * pacing.spread(75, 400)
    # a decoder's request (PLI): the retry spacing, answered or not
    assert pacing.next_request_at(10.0, 10.05, 75, 10, False) == pytest.approx(10.3)
    assert pacing.next_request_at(10.0, 9.0, 75, 10, False) == pytest.approx(10.3)
    # a newcomer's first picture: soon after an answered request, not after an unanswered one
    assert pacing.next_request_at(10.0, 10.05, 75, 10, True) == pytest.approx(10.1)
    assert pacing.next_request_at(10.0, 9.0, 75, 10, True) == pytest.approx(10.3)
    # a large room spaces both
    assert pacing.next_request_at(10.0, 10.05, 75, 400, True) == pytest.approx(11.5)
    assert pacing.next_request_at(10.0, 10.05, 75, 400, False) == pytest.approx(11.5)
    # never asked yet: at once
    assert pacing.next_request_at(float("-inf"), 0.0, 75, 10, True) < 0


def test_vp9_keyframes_and_sizes() -> None:
    from meetbox.media.depacketize import depacketize, vp9_descriptor_size, vp9_dimensions
    from meetbox.media.keyframe import keyframe_size

    # Chromium's first packet of a 1280x720 VP9 key frame: I, F, B, V, Z; picture id
    # 0x22a4; a scalability structure of one layer with its size; the frame header
    key = bytes.fromhex("9ba2a410050002d083498342") + b"\x00" * 8
    assert is_keyframe("video/VP9", key)
    assert keyframe_size("video/VP9", key) == (1280, 720)
    assert vp9_descriptor_size(key) == 8
    assert depacketize("video/VP9", key)[:4] == bytes.fromhex("83498342")
    assert vp9_dimensions(b"\x83\x49") is None  # cut short
    assert vp9_dimensions(bytes.fromhex("87498342") + b"\x00" * 8) is None  # not a key frame
    # a packet inside a frame (B clear), and a frame predicted from another (P set)
    assert not is_keyframe("video/VP9", bytes.fromhex("91a2a496"))
    assert not is_keyframe("video/VP9", bytes.fromhex("d9a2a502870440"))
    assert keyframe_size("video/VP9", bytes.fromhex("d9a2a502870440")) is None
    assert not is_keyframe("video/VP9", b"")


def test_vp9_frame_header_gives_the_size() -> None:
    import numpy as np

    from meetbox.media.depacketize import vp9_dimensions

    encoder = av.CodecContext.create("libvpx-vp9", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 352, 288, "yuv420p"
    encoder.time_base = fractions.Fraction(1, 30)
    frame = av.VideoFrame.from_ndarray(np.zeros((288, 352, 3), dtype=np.uint8), format="rgb24")
    packets = [bytes(p) for p in encoder.encode(frame.reformat(format="yuv420p"))]
    packets += [bytes(p) for p in encoder.encode(None)]
    assert vp9_dimensions(packets[0]) == (352, 288)


def test_av1_keyframes() -> None:
    # the aggregation header: N (a new coded video sequence) with Z clear begins a key frame
    assert is_keyframe("video/AV1", bytes([0x18, 0x0A]))
    assert not is_keyframe("video/AV1", bytes([0x10, 0x0A]))  # no N
    assert not is_keyframe("video/AV1", bytes([0x98, 0x0A]))  # Z: a continued OBU
    assert not is_keyframe("video/AV1", b"")
