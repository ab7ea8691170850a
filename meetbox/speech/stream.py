"""One speaker's audio inside a speech worker: decoded (Opus, with PyAV) or taken as
16 kHz PCM, resampled, cut into utterances, and offered for interim and final text."""

from __future__ import annotations

from dataclasses import dataclass, field

import av
import numpy as np

from meetbox.speech.vad import SAMPLE_RATE, Utterance, UtteranceCutter

FORMATS = ("opus", "pcm16")
MAX_FRAME = 64 * 1024  # bytes: no Opus packet or PCM chunk a client sends is larger


@dataclass
class StreamOptions:
    format: str = "opus"
    language: str = "en"
    end_silence: float = 0.35
    max_utterance: float = 12.0
    interim_interval: float = 1.0


@dataclass
class SpeechStream:
    """Decoder, resampler and utterance cutter of one stream; counts what it refused."""

    stream_id: str
    options: StreamOptions
    cutter: UtteranceCutter = field(init=False)
    bad_frames: int = 0
    finals: list[Utterance] = field(default_factory=list)
    interim_mark: float = 0.0  # the speech end the last interim covered
    interim_due: float = 0.0

    def __post_init__(self) -> None:
        self.cutter = UtteranceCutter(self.options.end_silence, self.options.max_utterance)
        self._decoder: av.AudioCodecContext | None = None
        self._resampler: av.AudioResampler | None = None
        if self.options.format == "opus":
            decoder = av.CodecContext.create("opus", "r")
            assert isinstance(decoder, av.AudioCodecContext)
            self._decoder = decoder
            self._decoder.sample_rate = 48000
            self._decoder.layout = "stereo"
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)

    def _pcm(self, data: bytes) -> np.ndarray | None:
        if self.options.format == "pcm16":
            if len(data) % 2:
                return None
            return np.frombuffer(data, dtype="<i2").astype(np.int16)
        assert self._decoder is not None and self._resampler is not None
        try:
            chunks = []
            for frame in self._decoder.decode(av.Packet(data)):
                for out in self._resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
        except (av.FFmpegError, ValueError):
            return None
        if not chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(chunks).astype(np.int16, copy=False)

    def push(self, data: bytes, arrival: float) -> None:
        """One Opus packet or PCM chunk; a frame that does not decode is counted, skipped."""
        if not data or len(data) > MAX_FRAME:
            self.bad_frames += 1
            return
        pcm = self._pcm(data)
        if pcm is None:
            self.bad_frames += 1
            return
        was_speaking = self.cutter.speaking
        self.finals.extend(self.cutter.feed(pcm, arrival))
        if self.cutter.speaking and not was_speaking:
            self.interim_mark = 0.0
            self.interim_due = arrival + min(0.5, self.options.interim_interval)

    def idle(self, now: float) -> None:
        ended = self.cutter.idle(now)
        if ended is not None:
            self.finals.append(ended)

    def flush(self) -> None:
        ended = self.cutter.flush()
        if ended is not None:
            self.finals.append(ended)

    def interim(self, now: float) -> Utterance | None:
        """The speech so far, when interim text is due and something new was said."""
        if not self.cutter.speaking or now < self.interim_due:
            return None
        current = self.cutter.current()
        if current is None or current.end <= self.interim_mark:
            return None
        self.interim_mark = current.end
        self.interim_due = now + self.options.interim_interval
        return current


def to_float(audio: np.ndarray) -> np.ndarray:
    return audio.astype(np.float32) / 32768.0
