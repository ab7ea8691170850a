"""Text-to-speech behind one small protocol, and Opus packets of what it says: Debian's
espeak-ng (offline, about 100 languages) by default, an OpenAI-compatible
``/v1/audio/speech`` server (Piper, Kokoro and others behind such servers) for quality.

Plain blocking code: synthesis and encoding run in a worker, never on the event loop.
"""

from __future__ import annotations

import fractions
import io
import re
import subprocess
import wave
from functools import cache
from typing import Protocol

import av
import numpy as np

from meetbox.speech import espeak
from meetbox.speech.engines import EngineError, api_url, fetch, json_request

OPUS_RATE = 48000
OPUS_FRAME = 960  # samples: 20 ms


class Synthesiser(Protocol):
    name: str

    def synthesise(self, text: str, language: str, voice: str = "") -> tuple[np.ndarray, int]:
        """int16 mono samples of ``text`` spoken, and their sample rate."""
        ...


@cache
def espeak_voices() -> frozenset[str]:
    """The languages espeak-ng on this box speaks (``espeak-ng --voices``)."""
    try:
        listing = subprocess.run(
            ["espeak-ng", "--voices"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    names = set()
    for line in listing.splitlines()[1:]:
        if line.split():
            names.add(line.split()[1].lower())  # the voice: fr-be, en-us
            names.update(m.lower() for m in re.findall(r"\((\S+) \d+\)", line))  # aliases: fr
    return frozenset(names)


class EspeakSynthesiser:
    name = "espeak"

    def synthesise(self, text: str, language: str, voice: str = "") -> tuple[np.ndarray, int]:
        chosen = (voice or language or "en").lower()
        voices = espeak_voices()
        if voices and chosen not in voices:
            base = chosen.split("-")[0]
            if base not in voices:
                raise EngineError(f"espeak-ng has no voice for {chosen!r}")
            chosen = base
        try:
            return espeak.synthesise(text, chosen)
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            raise EngineError(f"espeak-ng failed: {exc}") from None


class HttpSynthesiser:
    """OpenAI's ``POST /v1/audio/speech`` (``model``, ``input``, ``voice``,
    ``response_format: "wav"``); the reply is the audio itself."""

    name = "http"

    def __init__(
        self, url: str, model: str, voice: str = "", api_key: str = "", timeout: float = 30.0
    ) -> None:
        self.url = api_url(url, "/audio/speech")
        self.model = model
        self.voice = voice
        self.api_key = api_key
        self.timeout = timeout

    def synthesise(self, text: str, language: str, voice: str = "") -> tuple[np.ndarray, int]:
        body = {
            "model": self.model,
            "input": text,
            "voice": voice or self.voice or "alloy",
            "response_format": "wav",
        }
        request = json_request(self.url, body, self.api_key)
        data = fetch(request, self.timeout, f"the speech synthesiser at {self.url}", 64 << 20)
        try:
            with wave.open(io.BytesIO(data)) as w:
                if w.getsampwidth() != 2:
                    raise EngineError("the speech synthesiser's WAV is not 16-bit")
                samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
                if w.getnchannels() > 1:
                    samples = samples.reshape(-1, w.getnchannels())[:, 0]
                return samples.astype(np.int16), w.getframerate()
        except (wave.Error, EOFError):
            raise EngineError("the speech synthesiser did not answer a WAV file") from None


def opus_packets(samples: np.ndarray, rate: int, bitrate: int = 64000) -> list[bytes]:
    """``samples`` (int16 mono at ``rate``) as 20 ms Opus packets at 48 kHz (libopus),
    encoded once, whoever listens. 64 kbps: at 32 the multilingual Whisper base no longer
    follows espeak-ng's French (measured: most words lost)."""
    pcm = espeak.resample(samples, rate, OPUS_RATE)
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = OPUS_RATE
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.bit_rate = bitrate
    encoder.time_base = fractions.Fraction(1, OPUS_RATE)
    packets: list[bytes] = []
    padded = np.concatenate([pcm, np.zeros(-len(pcm) % OPUS_FRAME, dtype=np.int16)])
    for i in range(0, len(padded), OPUS_FRAME):
        frame = av.AudioFrame.from_ndarray(padded[i : i + OPUS_FRAME].reshape(1, -1), "s16", "mono")
        frame.sample_rate = OPUS_RATE
        frame.pts = i
        packets += [bytes(p) for p in encoder.encode(frame)]
    packets += [bytes(p) for p in encoder.encode(None)]
    return packets


def build_synthesiser(
    engine: str, url: str = "", model: str = "", voice: str = "", api_key: str = ""
) -> Synthesiser:
    if engine == "http":
        return HttpSynthesiser(url, model, voice, api_key)
    return EspeakSynthesiser()
