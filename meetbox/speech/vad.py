"""Utterances from a stream of 16 kHz mono PCM: WebRTC's voice-activity detector over
20 ms frames, with a short pre-roll, an end after a pause, and a cut at a maximum length.

Times are the arrival times of the frames (server seconds), so an utterance's start and
end are where the speaker was heard, whatever the packets' own clocks say.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import webrtcvad

SAMPLE_RATE = 16000
FRAME = 320  # samples: 20 ms
FRAME_SECONDS = FRAME / SAMPLE_RATE
PRE_ROLL = 10  # frames kept before speech starts (200 ms), so the first word is whole
START_VOICED = 4  # voiced frames among the last START_WINDOW that start an utterance
START_WINDOW = 6
MIN_UTTERANCE = 0.25  # seconds of voice below which an "utterance" was a noise


@dataclass
class Utterance:
    audio: np.ndarray  # int16
    start: float
    end: float
    final: bool


class UtteranceCutter:
    """Feed PCM as it arrives; take back the utterances that ended."""

    def __init__(
        self, end_silence: float = 0.35, max_utterance: float = 12.0, aggressiveness: int = 2
    ) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)
        self._end_frames = max(1, round(end_silence / FRAME_SECONDS))
        self._max_frames = round(max_utterance / FRAME_SECONDS)
        self._pending = np.zeros(0, dtype=np.int16)
        self._recent: deque[tuple[np.ndarray, bool, float]] = deque(maxlen=PRE_ROLL)
        self._frames: list[np.ndarray] = []
        self._voiced_frames = 0
        self._silence = 0
        self.speaking = False
        self.start = 0.0
        self.last_voice = 0.0
        self.last_arrival = 0.0

    def feed(self, pcm: np.ndarray, arrival: float) -> list[Utterance]:
        """``pcm``: int16 samples that arrived at ``arrival``."""
        self.last_arrival = arrival
        data = np.concatenate((self._pending, pcm)) if self._pending.size else pcm
        whole = len(data) // FRAME * FRAME
        self._pending = data[whole:].copy()
        done: list[Utterance] = []
        count = whole // FRAME
        for i in range(count):
            frame = data[i * FRAME : (i + 1) * FRAME]
            # frames of one chunk are spread back over the time it covered
            at = arrival - (count - 1 - i) * FRAME_SECONDS
            utterance = self._frame(frame, at)
            if utterance is not None:
                done.append(utterance)
        return done

    def _frame(self, frame: np.ndarray, at: float) -> Utterance | None:
        voiced = self._vad.is_speech(frame.tobytes(), SAMPLE_RATE)
        if not self.speaking:
            self._recent.append((frame, voiced, at))
            window = list(self._recent)[-START_WINDOW:]
            if sum(1 for _, v, _ in window if v) >= START_VOICED:
                self.speaking = True
                self.start = self._recent[0][2] - FRAME_SECONDS
                self._frames = [f for f, _, _ in self._recent]
                self._voiced_frames = sum(1 for _, v, _ in self._recent if v)
                self._silence = 0
                self.last_voice = at
                self._recent.clear()
            return None
        self._frames.append(frame)
        if voiced:
            self._voiced_frames += 1
            self._silence = 0
            self.last_voice = at
        else:
            self._silence += 1
        if self._silence >= self._end_frames:
            return self._finish(self._silence)
        if len(self._frames) >= self._max_frames:
            return self._finish(0)
        return None

    def _finish(self, trailing: int) -> Utterance | None:
        frames = self._frames[: len(self._frames) - trailing + 2] if trailing else self._frames
        voiced = self._voiced_frames * FRAME_SECONDS
        self.speaking = False
        self._frames = []
        self._voiced_frames = 0
        self._silence = 0
        if voiced < MIN_UTTERANCE:
            return None
        return Utterance(np.concatenate(frames), self.start, self.last_voice, True)

    def current(self) -> Utterance | None:
        """The utterance being spoken, so far (for interim text)."""
        if not self.speaking or not self._frames:
            return None
        return Utterance(np.concatenate(self._frames), self.start, self.last_voice, False)

    def idle(self, now: float) -> Utterance | None:
        """No audio came for a while (muted, left, packets lost): an utterance in progress
        ends when its pause would have."""
        if self.speaking and now - self.last_arrival >= self._end_frames * FRAME_SECONDS:
            return self._finish(self._silence)
        return None

    def flush(self) -> Utterance | None:
        """The stream ends: what was being said is final now."""
        if not self.speaking:
            return None
        return self._finish(self._silence)
