"""Text translation engines behind one small protocol, for the speech-translation sessions
(seed 002): an OpenAI-compatible chat-completions server (Ollama, vLLM, llama.cpp's
server), a LibreTranslate server, and argos-translate for operators who install its
language packages. No offline translation model installs from the package registries
here, so without a configured engine a session says so plainly (:class:`NoTranslator`).

Plain blocking code, like the other engines: callers run it in a thread or a worker.
"""

from __future__ import annotations

from typing import Protocol

from meetbox.speech.engines import EngineError, api_url, json_request, post

NO_ENGINE = "no translation engine configured"
MAX_TEXT = 5000


class Translator(Protocol):
    name: str

    def translate(self, text: str, source: str, target: str) -> str: ...


class NoTranslator:
    """What a session has when the operator configured no engine: every call says so."""

    name = "none"

    def translate(self, text: str, source: str, target: str) -> str:
        raise EngineError(NO_ENGINE)


PROMPT = (
    "You are a simultaneous interpreter. Translate the user's text from {source} to "
    "{target}. Answer with the translation only: no quotes, notes or explanations."
)


class ChatTranslator:
    """An OpenAI-compatible ``POST /v1/chat/completions``, asked for the translation only."""

    name = "chat"

    def __init__(self, url: str, model: str, api_key: str = "", timeout: float = 30.0) -> None:
        self.url = api_url(url, "/chat/completions")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    def translate(self, text: str, source: str, target: str) -> str:
        body = {
            "model": self.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": PROMPT.format(source=source, target=target)},
                {"role": "user", "content": text[:MAX_TEXT]},
            ],
        }
        reply = post(json_request(self.url, body, self.api_key), self.timeout,
                     f"the chat model at {self.url}")  # fmt: skip
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise EngineError("the chat model's answer has no message content") from None
        if not isinstance(content, str):
            raise EngineError("the chat model's answer is not text")
        return content.strip().strip('"').strip()


class LibreTranslator:
    """LibreTranslate's ``POST /translate`` (``q``, ``source``, ``target``, ``format``,
    ``api_key``; the reply's ``translatedText``)."""

    name = "libretranslate"

    def __init__(self, url: str, api_key: str = "", timeout: float = 30.0) -> None:
        self.url = url.rstrip("/") + "/translate"
        self.api_key = api_key
        self.timeout = timeout

    def translate(self, text: str, source: str, target: str) -> str:
        body = {"q": text[:MAX_TEXT], "source": source, "target": target, "format": "text"}
        if self.api_key:
            body["api_key"] = self.api_key
        reply = post(json_request(self.url, body), self.timeout, f"LibreTranslate at {self.url}")
        translated = reply.get("translatedText")
        if not isinstance(translated, str):
            raise EngineError(f"LibreTranslate answered no translatedText: {reply.get('error')}")
        return translated.strip()


class ArgosTranslator:
    """argos-translate with the language packages the operator installed (they are
    fetched from its index, which this box cannot reach: installed by hand)."""

    name = "argos"

    def translate(self, text: str, source: str, target: str) -> str:
        try:
            from argostranslate import translate  # type: ignore[import-not-found]
        except ImportError:
            raise EngineError(
                "argos-translate is not installed (pip install argostranslate)"
            ) from None
        languages = {lang.code: lang for lang in translate.get_installed_languages()}
        src, dst = languages.get(source.split("-")[0]), languages.get(target.split("-")[0])
        pair = src.get_translation(dst) if src is not None and dst is not None else None
        if pair is None:
            raise EngineError(f"no argos-translate package for {source} to {target} is installed")
        return str(pair.translate(text[:MAX_TEXT])).strip()


def build_translator(engine: str, url: str = "", model: str = "", api_key: str = "") -> Translator:
    if engine == "chat":
        return ChatTranslator(url, model, api_key)
    if engine == "libretranslate":
        return LibreTranslator(url, api_key)
    if engine == "argos":
        return ArgosTranslator()
    return NoTranslator()
