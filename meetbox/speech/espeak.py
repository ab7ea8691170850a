"""Speech synthesised by Debian's espeak-ng (offline, about 100 languages): for the tests,
the benchmark, and the translation sessions' default voice."""

from __future__ import annotations

import io
import shutil
import subprocess
import wave

import av
import numpy as np

TIMEOUT = 60.0


def available() -> bool:
    return shutil.which("espeak-ng") is not None


def synthesise(
    text: str, voice: str = "en-us", words_per_minute: int = 150
) -> tuple[np.ndarray, int]:
    """int16 mono samples of ``text`` spoken, and their sample rate."""
    if shutil.which("espeak-ng") is None:
        raise FileNotFoundError("espeak-ng is not installed (scripts/system-deps.sh)")
    done = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "--stdout", "--", text],
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    if done.returncode != 0 or not done.stdout:
        raise ValueError(f"espeak-ng failed: {done.stderr.decode(errors='replace').strip()}")
    with wave.open(io.BytesIO(done.stdout)) as w:
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
    return samples, rate


def resample(samples: np.ndarray, rate: int, to: int) -> np.ndarray:
    """int16 mono at ``rate`` to int16 mono at ``to`` (FFmpeg's resampler)."""
    if rate == to:
        return samples
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="s16", layout="mono", rate=to)
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out).astype(np.int16) if out else np.zeros(0, np.int16)


def speech(text: str, rate: int = 16000, voice: str = "en-us") -> np.ndarray:
    """``text`` spoken by espeak-ng as int16 mono at ``rate``."""
    samples, native = synthesise(text, voice)
    return resample(samples, native, rate)
