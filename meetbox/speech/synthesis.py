"""Speech for a translation track, made in a worker process: text to samples (the
configured synthesiser) to Opus packets, once per target language."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from meetbox.speech.tts import OPUS_FRAME, OPUS_RATE, build_synthesiser, opus_packets


@dataclass(frozen=True)
class VoiceConfig:
    """Picklable: sent to the worker process with each job."""

    engine: str = "espeak"
    url: str = ""
    model: str = ""
    voice: str = ""
    api_key: str = ""


def speak(config: VoiceConfig, text: str, language: str, voice: str = "") -> list[bytes]:
    """In the worker: ``text`` spoken in ``language`` as 20 ms Opus packets."""
    synthesiser = build_synthesiser(
        config.engine, config.url, config.model, config.voice, config.api_key
    )
    samples, rate = synthesiser.synthesise(text, language, voice or config.voice)
    return opus_packets(samples, rate)


@cache
def silence() -> bytes:
    """One 20 ms Opus packet of silence, played between utterances."""
    return opus_packets(np.zeros(OPUS_FRAME * 3, dtype=np.int16), OPUS_RATE)[1]
