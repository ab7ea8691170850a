"""Speech-to-text engines behind one small protocol: 16 kHz mono audio in, text out.

They run inside speech worker processes (``speech.worker``), never on the server's event
loop, so they are plain blocking code: faster-whisper (offline, any CTranslate2 Whisper
model) and a client of the OpenAI-compatible ``/v1/audio/transcriptions`` endpoint that
on-prem servers speak (faster-whisper-server/speaches, whisper.cpp's server, vLLM, LocalAI).
"""

from __future__ import annotations

import io
import json
import secrets
import urllib.error
import urllib.request
import wave
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from meetbox.speech.models import resolve_model

SAMPLE_RATE = 16000
HOP = 160  # samples per mel frame
FULL_WINDOW = 3000  # frames: Whisper's 30 seconds
WINDOW_STEP = 100  # frames: windows are whole seconds
# frames: shorter windows make the decoder repeat itself and misjudge the language
MIN_WINDOW = 1000
# a decode that compresses better than this is repeating itself (faster-whisper uses 2.4
# for 30-second windows; an utterance's few words compress less)
MAX_COMPRESSION = 1.6
PAD_FRAMES = 100  # a second of silence after the utterance, as Whisper's padding gives
MAX_SECONDS = 30
MAX_TOKENS = 440
TOKENS_BASE, TOKENS_PER_SECOND = 16, 12  # a guard against a decoder that repeats itself
# Whisper's own hints that a window held no speech: skip such segments (no "Thank you.")
NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0


@dataclass(frozen=True)
class Transcription:
    text: str
    language: str


class EngineError(Exception):
    """The engine failed or cannot be reached; the message says why, for the room."""


class SpeechEngine(Protocol):
    """Transcribes one utterance: float32 samples in -1..1 at 16 kHz, mono."""

    name: str

    def transcribe(self, audio: np.ndarray, language: str) -> Transcription: ...


@dataclass(frozen=True)
class EngineConfig:
    """What a worker process needs to build its engine (picklable: sent to the worker)."""

    engine: str = "whisper"
    model: str = "auto"
    language: str = "en"  # the model loaded at start
    cache_dir: str = ""
    threads: int = 1
    cpus: tuple[int, ...] = ()  # the worker's CPU affinity (empty: inherited)
    http_url: str = ""
    http_model: str = "whisper-1"
    http_api_key: str = ""
    http_timeout: float = 30.0


class WhisperEngine:
    """faster-whisper on the CPU, int8, greedy: a model loaded once per process and per
    model (``auto`` loads tiny.en for English and the multilingual base for the rest)."""

    name = "whisper"

    def __init__(self, model: str, cache_dir: Path, threads: int = 1) -> None:
        self.model = model
        self.cache_dir = cache_dir
        self.threads = threads
        self._loaded: dict[Path, Any] = {}

    def _model_for(self, language: str) -> Any:
        from faster_whisper import WhisperModel

        try:
            path = resolve_model(self.model, language, self.cache_dir)
        except (FileNotFoundError, OSError) as exc:
            raise EngineError(str(exc)) from None
        model = self._loaded.get(path)
        if model is None:
            try:
                model = WhisperModel(
                    str(path), device="cpu", compute_type="int8", cpu_threads=self.threads
                )
            except Exception as exc:  # a broken or missing model directory
                raise EngineError(f"the Whisper model in {path} cannot be loaded: {exc}") from exc
            self._loaded[path] = model
        return model

    def prepare(self, language: str) -> None:
        """Load the model a language needs, and run it once (its first run is slower), now
        rather than at the first utterance."""
        self.transcribe(np.zeros(SAMPLE_RATE // 2, dtype=np.float32), language)

    def transcribe(self, audio: np.ndarray, language: str) -> Transcription:
        """One greedy decode over an encoder window sized to the utterance (CTranslate2
        takes fewer than Whisper's 3000 frames): a 3-second utterance costs a fraction of
        a 30-second window, which is what lets interim text come every second."""
        import ctranslate2
        from faster_whisper.tokenizer import Tokenizer

        model = self._model_for(language)
        audio = audio[: MAX_SECONDS * SAMPLE_RATE]
        # the padding is silence as audio (its log-mel is not zeros), as Whisper pads
        features = model.feature_extractor(audio, padding=FULL_WINDOW * HOP)
        needed = -(-(len(audio) // HOP + PAD_FRAMES) // WINDOW_STEP) * WINDOW_STEP
        multilingual = bool(model.model.is_multilingual)

        def encode(frames: int) -> Any:
            window = np.zeros((1, features.shape[0], frames), dtype=np.float32)
            used = min(frames, features.shape[-1])
            window[0, :, :used] = features[:, :used]
            return model.model.encode(ctranslate2.StorageView.from_array(window), to_cpu=False)

        if multilingual and not language:  # detected over Whisper's own window
            language = model.model.detect_language(encode(FULL_WINDOW))[0][0][0].strip("<|>")
        tokenizer = Tokenizer(
            model.hf_tokenizer, multilingual, task="transcribe",
            language=(language or "en") if multilingual else None,
        )  # fmt: skip
        seconds = len(audio) / SAMPLE_RATE
        short = min(FULL_WINDOW, max(MIN_WINDOW, needed))
        for frames in dict.fromkeys((short, FULL_WINDOW)):
            result = model.model.generate(
                encode(frames),
                [[*tokenizer.sot_sequence, tokenizer.no_timestamps]],
                beam_size=1,
                max_length=min(MAX_TOKENS, int(TOKENS_BASE + TOKENS_PER_SECOND * seconds)),
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                suppress_tokens=[-1],
            )[0]
            tokens = result.sequences_ids[0]
            text = tokenizer.decode(tokens).strip()
            # a decoder repeating itself over the short window: Whisper's full one instead
            if not repeating(text):
                break
        logprob = result.scores[0] / (len(tokens) + 1)
        if result.no_speech_prob > NO_SPEECH_PROB and logprob < LOW_LOGPROB:
            return Transcription("", language)
        return Transcription(text, language or "en")


def compression_ratio(text: str) -> float:
    """How much zlib shrinks ``text``: high for a decoder stuck repeating itself."""
    data = text.encode()
    return len(data) / max(1, len(zlib.compress(data))) if data else 0.0


def repeating(text: str) -> bool:
    """A decoder stuck in a loop: a word three times in a row, or text that compresses
    like a repetition."""
    words = text.lower().split()
    if any(words[i] == words[i + 1] == words[i + 2] for i in range(len(words) - 2)):
        return True
    return compression_ratio(text) > MAX_COMPRESSION


def wav_bytes(audio: np.ndarray) -> bytes:
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return out.getvalue()


def api_url(base: str, path: str) -> str:
    """``base`` with ``/v1`` added when the operator gave the server's root."""
    base = base.rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"
    return base + path


def multipart(
    fields: dict[str, str], file_field: str, file_name: str, data: bytes
) -> tuple[bytes, str]:
    boundary = "meetbox" + secrets.token_hex(12)
    parts: list[bytes] = []
    for key, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    parts.append(
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
            f'filename="{file_name}"\r\nContent-Type: audio/wav\r\n\r\n'
        ).encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def fetch(
    request: urllib.request.Request, timeout: float, what: str, limit: int = 4 * 1024 * 1024
) -> bytes:
    """Send and read the reply's body; every failure an :class:`EngineError` saying what."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            body: bytes = reply.read(limit)
            return body
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace").strip()
        raise EngineError(f"{what} answered HTTP {exc.code}: {detail or exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise EngineError(f"{what} is unreachable: {reason}") from None


def json_request(url: str, body: dict[str, Any], api_key: str = "") -> urllib.request.Request:
    """A JSON POST to an HTTP engine, with its bearer key when it has one."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    return request


def post(request: urllib.request.Request, timeout: float, what: str) -> dict[str, Any]:
    """POST and read a JSON object; every failure an :class:`EngineError` saying what."""
    body = fetch(request, timeout, what)
    try:
        data = json.loads(body)
    except ValueError:
        raise EngineError(f"{what} answered something that is not JSON") from None
    if not isinstance(data, dict):
        raise EngineError(f"{what} answered JSON that is not an object")
    return data


class HttpEngine:
    """An OpenAI-compatible ``POST /v1/audio/transcriptions`` (multipart: ``file``,
    ``model``, ``language``, ``response_format=json``; the reply's ``text``)."""

    name = "http"

    def __init__(self, url: str, model: str, api_key: str = "", timeout: float = 30.0) -> None:
        self.url = api_url(url, "/audio/transcriptions")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    def prepare(self, language: str) -> None:
        return None

    def transcribe(self, audio: np.ndarray, language: str) -> Transcription:
        fields = {"model": self.model, "response_format": "json", "temperature": "0"}
        if language:
            fields["language"] = language
        body, content_type = multipart(fields, "file", "speech.wav", wav_bytes(audio))
        request = urllib.request.Request(self.url, data=body, method="POST")
        request.add_header("Content-Type", content_type)
        if self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        data = post(request, self.timeout, f"the speech server at {self.url}")
        text = data.get("text")
        if not isinstance(text, str):
            raise EngineError("the speech server's answer has no 'text'")
        return Transcription(text.strip(), str(data.get("language") or language))


def build_engine(config: EngineConfig) -> WhisperEngine | HttpEngine:
    if config.engine == "http":
        return HttpEngine(
            config.http_url, config.http_model, config.http_api_key, config.http_timeout
        )
    return WhisperEngine(config.model, Path(config.cache_dir), config.threads)
