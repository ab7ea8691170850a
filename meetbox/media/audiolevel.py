"""Audio levels from the ssrc-audio-level extension (RFC 6464) and active speakers."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field

SILENCE_DBOV = 127


def audio_level_from_extension(value: bytes) -> tuple[bool, int]:
    """(voice activity flag, level in -dBov: 0 loudest, 127 silence)."""
    if not value:
        raise ValueError("ssrc-audio-level extension is empty")
    return bool(value[0] & 0x80), value[0] & 0x7F


def level_to_linear(level_dbov: int) -> float:
    """-dBov to a linear amplitude in 0..1."""
    return math.pow(10.0, -level_dbov / 20.0)


@dataclass(slots=True)
class _Observations:
    samples: deque[tuple[float, int]] = field(default_factory=deque)


@dataclass(frozen=True, slots=True)
class Speaker:
    key: Hashable
    level: float  # mean linear amplitude over the window, 0..1
    active: bool


class ActiveSpeakerDetector:
    """Ranks sources by their recent loudness.

    Levels are kept for ``window`` seconds. A source is speaking when its mean level
    over the window is louder than ``threshold_dbov`` (LiveKit uses -35 dBov, written
    here as 35). The ranking lists speaking sources, loudest first.
    """

    def __init__(self, threshold_dbov: int = 35, window: float = 0.4) -> None:
        self.threshold = level_to_linear(threshold_dbov)
        self.window = window
        self._sources: dict[Hashable, _Observations] = {}

    def observe(self, key: Hashable, level_dbov: int, now: float) -> None:
        obs = self._sources.get(key)
        if obs is None:
            obs = self._sources[key] = _Observations()
        obs.samples.append((now, level_dbov))

    def forget(self, key: Hashable) -> None:
        self._sources.pop(key, None)

    def speakers(self, now: float) -> list[Speaker]:
        cutoff = now - self.window
        ranked: list[Speaker] = []
        for key, obs in self._sources.items():
            samples = obs.samples
            while samples and samples[0][0] < cutoff:
                samples.popleft()
            if not samples:
                continue
            mean = sum(level_to_linear(level) for _, level in samples) / len(samples)
            if mean >= self.threshold:
                ranked.append(Speaker(key, round(mean, 4), True))
        ranked.sort(key=lambda s: s.level, reverse=True)
        return ranked
