"""aiortc tracks over meetbox's synthetic sources, for tests, demos and load."""

from __future__ import annotations

import asyncio
import fractions
import time

import av
import numpy as np
from aiortc.mediastreams import MediaStreamTrack

from meetbox.media.synthetic import counter_frame, read_counter, tone

VIDEO_CLOCK = 90000
AUDIO_RATE = 48000
AUDIO_PTIME = 0.02


class Pacer:
    """Paces ``recv`` to real time, as a camera or microphone would.

    A caller that falls behind catches up in a burst (every numbered frame is sent: the
    synthetic test sources); with ``drop_late`` one a whole interval or more behind skips
    the missed slots instead, as a camera drops the frames it could not deliver (a load
    generator's publishers must not send bursts their clip never had).
    """

    def __init__(self, interval: float, drop_late: bool = False) -> None:
        self._interval = interval
        self._drop_late = drop_late
        self._start: float | None = None
        self._count = 0

    async def next(self) -> int:
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._count * self._interval
        if due > now:
            await asyncio.sleep(due - now)
        elif self._drop_late and now - due >= self._interval:
            self._count = int((now - self._start) / self._interval)
        count = self._count
        self._count += 1
        return count


class CounterVideoTrack(MediaStreamTrack):
    """Video whose every frame shows its own number (see :func:`read_counter`)."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240, fps: int = 30) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self.fps = fps
        self._pace = Pacer(1.0 / fps)

    async def recv(self) -> av.VideoFrame:
        n = await self._pace.next()
        frame = av.VideoFrame.from_ndarray(
            counter_frame(n, self.width, self.height), format="yuv420p"
        )
        frame.pts = n * (VIDEO_CLOCK // self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """A sine tone whose loudness can change while it plays (0..1 of full scale)."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0, amplitude: float = 0.5) -> None:
        super().__init__()
        self.frequency = frequency
        self.amplitude = amplitude
        self._samples = int(AUDIO_RATE * AUDIO_PTIME)
        self._pace = Pacer(AUDIO_PTIME)

    async def recv(self) -> av.AudioFrame:
        n = await self._pace.next()
        start = n * self._samples
        data = tone(self.frequency, self.amplitude, AUDIO_RATE, start, self._samples)
        frame = av.AudioFrame.from_ndarray(data, format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = start
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


def frame_counter(frame: av.VideoFrame) -> int | None:
    """The number a :class:`CounterVideoTrack` frame shows, after decoding."""
    luma = frame.to_ndarray(format="yuv420p")[: frame.height]
    return read_counter(luma.astype(np.uint8, copy=False))


class SpeechAudioTrack(MediaStreamTrack):
    """A microphone that says what it is given (int16 mono at 48 kHz), silence between.

    ``say`` queues samples; ``said`` holds, for each, the wall-clock seconds at which its
    first and last samples were sent (for latency measurements)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._samples = int(AUDIO_RATE * AUDIO_PTIME)
        self._pace = Pacer(AUDIO_PTIME)
        self._queue: list[np.ndarray] = []
        self._current: np.ndarray | None = None
        self._offset = 0
        self._started = 0.0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self.said: list[tuple[float, float]] = []

    def say(self, samples: np.ndarray) -> None:
        self._queue.append(samples.astype(np.int16, copy=False))
        self._quiet.clear()

    async def finished(self) -> None:
        """Until everything given to ``say`` has been sent."""
        await self._quiet.wait()

    @property
    def speaking(self) -> bool:
        return self._current is not None or bool(self._queue)

    async def recv(self) -> av.AudioFrame:
        n = await self._pace.next()
        data = np.zeros(self._samples, dtype=np.int16)
        if self._current is None and self._queue:
            self._current, self._offset = self._queue.pop(0), 0
            self._started = time.time()
        if self._current is not None:
            part = self._current[self._offset : self._offset + self._samples]
            data[: len(part)] = part
            self._offset += self._samples
            if self._offset >= len(self._current):
                self.said.append((self._started, time.time()))
                self._current = None
                if not self._queue:
                    self._quiet.set()
        frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = n * self._samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame
