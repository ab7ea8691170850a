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
