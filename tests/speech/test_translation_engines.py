"""The translation and text-to-speech engines of the translation sessions: the HTTP ones
against a server that speaks their documented APIs, espeak-ng for real, and what it says
encoded to Opus, decoded and transcribed back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from meetbox.speech.engines import EngineError, WhisperEngine
from meetbox.speech.stream import SpeechStream, StreamOptions, to_float
from meetbox.speech.translate import (
    NO_ENGINE,
    ArgosTranslator,
    ChatTranslator,
    LibreTranslator,
    NoTranslator,
)
from meetbox.speech.tts import EspeakSynthesiser, HttpSynthesiser, opus_packets
from meetbox.speech.words import word_error_rate
from tests.speech.fakes import OpenAiLike

pytestmark = pytest.mark.timeout(120)

ENGLISH = "we decided to move the launch to next month"
FRENCH = "nous avons décidé de reporter le lancement au mois prochain"


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[OpenAiLike]:
    server = OpenAiLike(dictionary={("en", "fr", ENGLISH): FRENCH})
    await server.start()
    yield server
    await server.stop()


async def test_libretranslate_and_chat_translators_speak_their_apis(fake: OpenAiLike) -> None:
    libre = LibreTranslator(fake.url, api_key="lt-key")
    assert await asyncio.to_thread(libre.translate, ENGLISH, "en", "fr") == FRENCH
    assert fake.translations[0] == {
        "q": ENGLISH, "source": "en", "target": "fr", "format": "text", "api_key": "lt-key",
    }  # fmt: skip
    with pytest.raises(EngineError, match="unsupported language pair"):
        await asyncio.to_thread(libre.translate, ENGLISH, "en", "de")

    fake.chat_reply = f'"{FRENCH}"'
    chat = ChatTranslator(fake.url, "llama3.1:8b")
    assert await asyncio.to_thread(chat.translate, ENGLISH, "en", "fr") == FRENCH
    system, user = fake.chats[0]["messages"]
    assert "from en to fr" in system["content"] and user["content"] == ENGLISH


def test_without_an_engine_a_session_is_told_so_plainly() -> None:
    with pytest.raises(EngineError, match=NO_ENGINE):
        NoTranslator().translate(ENGLISH, "en", "fr")
    with pytest.raises(EngineError, match="argos-translate is not installed"):
        ArgosTranslator().translate(ENGLISH, "en", "fr")


def hear(packets: list[bytes], language: str, cache: Path) -> str:
    """Decode Opus packets as a speech worker does, and transcribe what they hold."""
    stream = SpeechStream("t", StreamOptions(format="opus", language=language))
    for i, packet in enumerate(packets):
        stream.push(packet, i * 0.02)
    stream.flush()
    assert stream.bad_frames == 0 and len(stream.finals) == 1
    heard = WhisperEngine("auto", cache).transcribe(to_float(stream.finals[0].audio), language)
    return heard.text


def test_espeak_speaks_french_that_survives_opus_and_is_heard_back(tmp_path: Path) -> None:
    samples, rate = EspeakSynthesiser().synthesise(FRENCH, "fr")
    assert abs(samples.astype(float)).mean() > 500  # speech, not silence
    packets = opus_packets(samples, rate)
    assert abs(len(packets) * 0.02 - len(samples) / rate) < 0.1
    # the multilingual base model follows synthetic French through Opus only roughly
    heard = hear(packets, "fr", tmp_path).lower()
    assert "nous avons" in heard and word_error_rate(FRENCH, heard) <= 0.8, heard
    with pytest.raises(EngineError, match="no voice for 'xx-yy'"):
        EspeakSynthesiser().synthesise("hello", "xx-yy")


async def test_the_http_synthesiser_speaks_the_speech_api(fake: OpenAiLike, tmp_path: Path) -> None:
    tts = HttpSynthesiser(fake.url + "/v1", "kokoro", voice="en-us")
    samples, rate = await asyncio.to_thread(tts.synthesise, ENGLISH, "en")
    assert fake.speeches[0] == {
        "model": "kokoro", "input": ENGLISH, "voice": "en-us", "response_format": "wav",
    }  # fmt: skip
    assert len(samples) / rate > 1.5
    heard = await asyncio.to_thread(hear, opus_packets(samples, rate), "en", tmp_path)
    assert word_error_rate(ENGLISH, heard) <= 0.35, heard
    await fake.stop()
    with pytest.raises(EngineError, match="unreachable"):
        await asyncio.to_thread(tts.synthesise, ENGLISH, "en")
