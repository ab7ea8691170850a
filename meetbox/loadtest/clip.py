"""Encode a synthetic clip once; publishers then loop its packets (no encoder per publisher)."""

from __future__ import annotations

import fractions
from dataclasses import dataclass

import av
import numpy as np


@dataclass(frozen=True)
class Clip:
    """Encoded frames in order; ``interval`` seconds apart; frame 0 is a keyframe."""

    kind: str
    frames: tuple[bytes, ...]
    interval: float
    clock_rate: int

    @property
    def bitrate(self) -> float:
        return sum(len(f) for f in self.frames) * 8 / (len(self.frames) * self.interval)


def encode_video(
    width: int = 640,
    height: int = 480,
    bitrate: int = 1_000_000,
    fps: int = 30,
    seconds: float = 4,
    grain: int = 1,
) -> Clip:
    """VP8 of a panning noise texture: hard enough to keep the encoder at ``bitrate``.
    ``grain``: the noise in blocks of that many pixels (pixel noise is harder than any
    camera's picture: libvpx sends 30 Mbit/s of it at 1280x720 when asked for 1.5; with
    blocks of 8 it holds 150 kbit/s at 320x180 and 1.5 Mbit/s at 1280x720)."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuv420p"
    codec.bit_rate = bitrate
    codec.framerate = fractions.Fraction(fps, 1)
    codec.time_base = fractions.Fraction(1, fps)
    rate = str(bitrate)
    codec.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "g": "100000",  # one keyframe, at the start: a keyframe request restarts the loop
        "minrate": rate,
        "maxrate": rate,
        "bufsize": rate,
    }
    noise = np.random.default_rng(1).integers(
        0, 255, (height * 2 // grain + 1, width * 2 // grain + 1), dtype=np.uint8
    )
    texture = np.kron(noise, np.ones((grain, grain), np.uint8))[: height * 2, : width * 2]
    chroma = np.full(width * height // 2, 128, np.uint8)
    frames: list[bytes] = []
    for i in range(int(seconds * fps)):
        y, x = (i * 3) % height, (i * 5) % width
        luma = texture[y : y + height, x : x + width].reshape(-1)
        image = np.concatenate([luma, chroma]).reshape(height * 3 // 2, width)
        frame = av.VideoFrame.from_ndarray(image, format="yuv420p")
        frame.pts = i
        frames.extend(bytes(p) for p in codec.encode(frame))
    frames.extend(bytes(p) for p in codec.encode(None))
    return Clip("video", tuple(frames), 1 / fps, 90000)


def encode_audio(bitrate: int = 32000, seconds: float = 2) -> Clip:
    """Opus, 20 ms frames, stereo 48 kHz, of a warbling tone."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = 48000
    codec.layout = "stereo"
    codec.format = "s16"
    codec.bit_rate = bitrate
    samples = 960
    frames: list[bytes] = []
    for i in range(int(seconds / 0.02)):
        t = np.arange(samples) + i * samples
        pitch = 440 + 40 * np.sin(t / 9600)
        wave = (np.sin(t * 2 * np.pi * pitch / 48000) * 8000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(
            np.repeat(wave, 2).reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = 48000
        frame.pts = i * samples
        frames.extend(bytes(p) for p in codec.encode(frame))
    frames.extend(bytes(p) for p in codec.encode(None))
    return Clip("audio", tuple(frames), 0.02, 48000)
