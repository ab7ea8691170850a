"""After the meeting: the per-participant files composed into one MP4 (H.264 + AAC) in a
grid or active-speaker layout, and an audio-only Ogg/Opus mix for transcription.

Runs off the live path (a worker process or the command line); reports progress through
a callback. Segments are placed on one timeline by their manifest start times, so a
participant who left and came back appears in the same cell again.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from meetbox.recorder.roomrecording import SegmentInfo, read_manifest

RATE = 48_000
LAYOUTS = ("grid", "speaker")
Progress = Callable[[float], None]


@dataclass(frozen=True)
class ComposeSpec:
    width: int = 1280
    height: int = 720
    fps: int = 15
    layout: str = "grid"

    def check(self) -> None:
        if not (64 <= self.width <= 3840 and 64 <= self.height <= 2160):
            raise ValueError("the size must be between 64x64 and 3840x2160")
        if self.width % 2 or self.height % 2:
            raise ValueError("the width and height must be even (H.264 4:2:0)")
        if not 1 <= self.fps <= 60:
            raise ValueError("fps must be between 1 and 60")
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}")


@dataclass
class Placed:
    info: SegmentInfo
    path: Path
    start: float  # seconds on the output timeline
    duration: float


@dataclass(frozen=True)
class Composed:
    video: Path
    audio: Path
    duration: float
    participants: int


def _extent(path: Path) -> float:
    """Seconds from the file's time zero to the end of its last packet (no decoding)."""
    end = 0.0
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.pts is not None and packet.time_base is not None:
                t = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                end = max(end, t)
    return end


def place(folder: Path) -> list[Placed]:
    segments = [s for s in read_manifest(folder) if (folder / s.file).exists()]
    if not segments:
        raise ValueError("this recording has no files to compose")
    origin = min(s.start for s in segments)
    placed = [
        Placed(s, folder / s.file, s.start - origin, _extent(folder / s.file)) for s in segments
    ]
    return [p for p in placed if p.duration > 0]


# -- audio -----------------------------------------------------------------------------------


def _audio_frames(item: Placed) -> Iterator[tuple[int, Any]]:
    """(sample offset on the timeline, mono float32 samples) of one file's audio."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    with av.open(str(item.path)) as container:
        if not container.streams.audio:
            return
        for frame in container.decode(audio=0):
            start = item.start + float(frame.time or 0.0)
            for out in resampler.resample(frame):
                yield round(start * RATE), out.to_ndarray()[0]


def mix_audio(
    placed: list[Placed], total: float, scratch: Path, progress: Progress
) -> tuple[Any, list[list[float]]]:
    """The summed audio (a float32 array on disk) and each participant's loudness per
    second (for the active-speaker layout)."""
    length = math.ceil(total * RATE) + RATE
    mix = np.lib.format.open_memmap(scratch, mode="w+", dtype=np.float32, shape=(length,))
    names = sorted({p.info.participant for p in placed})
    loudness = [[0.0] * (math.ceil(total) + 1) for _ in names]
    for n, item in enumerate(placed):
        energy = loudness[names.index(item.info.participant)]
        for offset, samples in _audio_frames(item):
            end = min(length, offset + len(samples))
            if end <= offset:
                continue
            mix[offset:end] += samples[: end - offset]
            energy[min(len(energy) - 1, offset // RATE)] += float(np.square(samples).sum())
        progress((n + 1) / len(placed))
    return mix, loudness


def _encode_pcm(stream: Any, container: Any, pcm: Any, pts: int) -> None:
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = RATE
    frame.pts = pts
    frame.time_base = Fraction(1, RATE)
    for packet in stream.encode(frame):
        container.mux(packet)


def write_ogg(mix: Any, samples: int, path: Path) -> None:
    with av.open(str(path), "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=RATE, layout="mono")
        for pos in range(0, samples, 960):
            chunk = np.clip(np.asarray(mix[pos : pos + 960]), -1, 1)
            if len(chunk) < 960:
                chunk = np.pad(chunk, (0, 960 - len(chunk)))
            _encode_pcm(stream, out, chunk.astype(np.float32), pos)
        for packet in stream.encode(None):
            out.mux(packet)


# -- video -----------------------------------------------------------------------------------


class _VideoCursor:
    """One participant's decoded frames in timeline order, held until the next one."""

    def __init__(self, segments: list[Placed]) -> None:
        self.segments = sorted(segments, key=lambda p: p.start)
        self._frames = self._decode()
        self._next: tuple[float, Any] | None = next(self._frames, None)
        self.current: Any = None

    def _decode(self) -> Iterator[tuple[float, Any]]:
        for item in self.segments:
            if not item.info.video:
                continue
            with av.open(str(item.path)) as container:
                if not container.streams.video:
                    continue
                for frame in container.decode(video=0):
                    yield item.start + float(frame.time or 0.0), frame

    def visible(self, t: float) -> bool:
        return any(s.info.video and s.start <= t < s.start + s.duration for s in self.segments)

    def frame_at(self, t: float) -> Any:
        while self._next is not None and self._next[0] <= t:
            self.current = self._next[1]
            self._next = next(self._frames, None)
        return self.current


def _fit(frame: Any, width: int, height: int) -> Any:
    """The frame scaled into width x height with its aspect kept (RGB array)."""
    scale = min(width / frame.width, height / frame.height)
    w = max(2, int(frame.width * scale) // 2 * 2)
    h = max(2, int(frame.height * scale) // 2 * 2)
    return frame.reformat(width=w, height=h, format="rgb24").to_ndarray()


def _cells(count: int, width: int, height: int) -> list[tuple[int, int, int, int]]:
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols) if count else 1
    cw, ch = width // cols, height // rows
    return [((i % cols) * cw, (i // cols) * ch, cw, ch) for i in range(count)]


def _paste(canvas: Any, picture: Any, cell: tuple[int, int, int, int]) -> None:
    x, y, w, h = cell
    ph, pw = picture.shape[:2]
    top, left = y + (h - ph) // 2, x + (w - pw) // 2
    canvas[top : top + ph, left : left + pw] = picture


def compose(
    folder: Path,
    video_out: Path,
    audio_out: Path,
    spec: ComposeSpec,
    progress: Progress | None = None,
) -> Composed:
    """Compose a recording's folder into ``video_out`` (MP4) and ``audio_out`` (Ogg)."""
    spec.check()
    report = progress or (lambda fraction: None)
    placed = place(folder)
    total = max(p.start + p.duration for p in placed)
    names = sorted({p.info.participant for p in placed})
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        mix, loudness = mix_audio(
            placed, total, Path(scratch) / "mix.npy", lambda f: report(0.2 * f)
        )
        samples = round(total * RATE)
        write_ogg(mix, samples, audio_out)
        report(0.3)
        cursors = [_VideoCursor([p for p in placed if p.info.participant == n]) for n in names]
        frames = max(1, round(total * spec.fps))
        with av.open(str(video_out), "w", format="mp4") as out:
            video = out.add_stream("libx264", rate=spec.fps)
            video.width, video.height, video.pix_fmt = spec.width, spec.height, "yuv420p"
            video.options = {"preset": "veryfast", "crf": "26"}
            audio = out.add_stream("aac", rate=RATE, layout="mono")
            audio_pos = 0
            speaker = 0
            for i in range(frames):
                t = i / spec.fps
                canvas = np.zeros((spec.height, spec.width, 3), dtype=np.uint8)
                shown = [k for k, c in enumerate(cursors) if c.visible(t)]
                if spec.layout == "speaker" and shown:
                    second = min(int(t), len(loudness[0]) - 1)
                    loudest = max(shown, key=lambda k: loudness[k][second])
                    if loudness[loudest][second] > 0 or speaker not in shown:
                        speaker = loudest
                    shown = [speaker]
                for cell, k in zip(_cells(len(shown), spec.width, spec.height), shown, strict=True):
                    frame = cursors[k].frame_at(t)
                    if frame is not None:
                        _paste(canvas, _fit(frame, cell[2], cell[3]), cell)
                for k, cursor in enumerate(cursors):
                    if k not in shown:
                        cursor.frame_at(t)  # keep every cursor on time
                picture = av.VideoFrame.from_ndarray(canvas, format="rgb24")
                picture.pts = i
                picture.time_base = Fraction(1, spec.fps)
                for packet in video.encode(picture.reformat(format="yuv420p")):
                    out.mux(packet)
                until = min(samples, round((i + 1) / spec.fps * RATE) // 1024 * 1024)
                while audio_pos + 1024 <= until:
                    chunk = np.clip(np.asarray(mix[audio_pos : audio_pos + 1024]), -1, 1)
                    _encode_pcm(audio, out, chunk.astype(np.float32), audio_pos)
                    audio_pos += 1024
                if i % spec.fps == 0:
                    report(0.3 + 0.7 * i / frames)
            for packet in video.encode(None):
                out.mux(packet)
            for packet in audio.encode(None):
                out.mux(packet)
        del mix
    report(1.0)
    return Composed(video_out, audio_out, total, len(names))
