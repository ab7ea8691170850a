"""A server the tests start that speaks the documented OpenAI-compatible API (the one
faster-whisper-server, whisper.cpp's server, vLLM, Ollama and llama.cpp's server speak):
``POST /v1/audio/transcriptions`` (multipart), ``POST /v1/chat/completions`` (JSON) and
``POST /v1/audio/speech`` (JSON in, WAV out); and LibreTranslate's ``POST /translate``."""

from __future__ import annotations

import io
import json
import wave
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import unused_port

from meetbox.speech.espeak import synthesise


@dataclass
class Heard:
    model: str
    language: str
    seconds: float
    rate: int
    authorization: str


@dataclass
class OpenAiLike:
    """Answers a transcription with how much audio it got; a chat with ``chat_reply``."""

    port: int = field(default_factory=unused_port)
    transcriptions: list[Heard] = field(default_factory=list)
    chats: list[dict[str, Any]] = field(default_factory=list)
    chat_reply: str = "{}"
    fail_with: int = 0
    # LibreTranslate: (source, target, text) -> translation
    dictionary: dict[tuple[str, str, str], str] = field(default_factory=dict)
    translations: list[dict[str, Any]] = field(default_factory=list)
    echo: bool = False
    speeches: list[dict[str, Any]] = field(default_factory=list)
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def transcribe(self, request: web.Request) -> web.Response:
        if self.fail_with:
            return web.json_response(
                {"error": {"message": "model overloaded"}}, status=self.fail_with
            )
        form = await request.post()
        upload = form["file"]
        assert isinstance(upload, web.FileField)
        with wave.open(io.BytesIO(upload.file.read())) as w:
            rate, frames = w.getframerate(), w.getnframes()
            assert w.getnchannels() == 1 and w.getsampwidth() == 2
        heard = Heard(
            str(form.get("model", "")), str(form.get("language", "")), frames / rate, rate,
            request.headers.get("Authorization", ""),
        )  # fmt: skip
        self.transcriptions.append(heard)
        return web.json_response({"text": f" heard {heard.seconds:.1f} seconds of speech "})

    async def chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.chats.append(body)
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": self.chat_reply},
                     "finish_reason": "stop"}
                ],
            }
        )  # fmt: skip

    async def libretranslate(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.translations.append(body)
        found = self.dictionary.get((body["source"], body["target"], body["q"]))
        if found is None and self.echo:  # a stand-in: the text marked with its target
            found = f"({body['target']}) {body['q']}"
        if found is None:
            return web.json_response({"error": "unsupported language pair"}, status=400)
        return web.json_response({"translatedText": found})

    async def speech(self, request: web.Request) -> web.Response:
        """OpenAI's /v1/audio/speech, spoken here by espeak-ng in the voice asked for."""
        body = await request.json()
        self.speeches.append(body)
        samples, rate = synthesise(body["input"], body["voice"])
        out = io.BytesIO()
        with wave.open(out, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(samples.tobytes())
        return web.Response(body=out.getvalue(), content_type="audio/wav")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/audio/transcriptions", self.transcribe)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/translate", self.libretranslate)
        app.router.add_post("/v1/audio/speech", self.speech)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


def chat_json(**fields: Any) -> str:
    return json.dumps(fields)
