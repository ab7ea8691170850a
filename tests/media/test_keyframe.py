"""Keyframe detection on real encoder output."""

from __future__ import annotations

import fractions

import av
from aiortc.codecs import get_encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from meetbox.media.keyframe import h264_is_keyframe, is_keyframe, vp8_is_keyframe
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
