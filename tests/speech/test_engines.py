"""The speech engines and the voice detector on real synthesised speech (espeak-ng), and
the HTTP clients against a server that speaks the documented OpenAI-compatible API."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from meetbox.speech.engines import EngineError, HttpEngine, WhisperEngine
from meetbox.speech.espeak import speech
from meetbox.speech.stream import SpeechStream, StreamOptions, to_float
from meetbox.speech.summary import ChatSummariser, Line, extractive, markdown
from meetbox.speech.vad import UtteranceCutter
from meetbox.speech.words import word_error_rate
from tests.speech.fakes import OpenAiLike, chat_json

pytestmark = pytest.mark.timeout(120)

SENTENCES = [
    "please review the budget before the meeting on tuesday",
    "the server needs more memory and a faster disk",
]


def test_the_detector_cuts_one_utterance_per_sentence() -> None:
    gap = np.zeros(16000, dtype=np.int16)
    audio = np.concatenate([gap, speech(SENTENCES[0]), gap, speech(SENTENCES[1]), gap])
    cutter = UtteranceCutter(end_silence=0.35)
    found = []
    for i in range(0, len(audio), 320 * 5):  # 100 ms chunks, "arriving" in real time
        found += cutter.feed(audio[i : i + 320 * 5], arrival=(i + 320 * 5) / 16000)
    assert len(found) == 2, [(u.start, u.end) for u in found]
    first, second = found
    assert 0.8 < first.start < 1.2 and first.end < second.start
    for utterance, sentence in zip(found, SENTENCES, strict=True):
        spoken = len(speech(sentence)) / 16000
        assert abs((utterance.end - utterance.start) - spoken) < 0.6
    assert cutter.feed(np.zeros(16000, np.int16), 10.0) == [] and not cutter.speaking


def test_whisper_transcribes_english_and_the_multilingual_model_french(tmp_path: Path) -> None:
    engine = WhisperEngine("auto", tmp_path)
    for sentence in SENTENCES:
        heard = engine.transcribe(to_float(speech(sentence)), "en")
        assert word_error_rate(sentence, heard.text) <= 0.35, heard.text
    french = "nous avons décidé de lancer le produit le mois prochain"
    heard = engine.transcribe(to_float(speech(french, voice="fr")), "fr")
    assert heard.language == "fr"
    assert word_error_rate(french, heard.text) <= 0.6, heard.text
    detected = engine.transcribe(to_float(speech(french, voice="fr")), "")
    assert detected.language == "fr" and detected.text == heard.text
    assert (tmp_path / "whisper-base" / "model.bin").stat().st_size > 100_000_000


def test_a_missing_model_is_a_clear_engine_error(tmp_path: Path) -> None:
    engine = WhisperEngine(str(tmp_path / "nowhere"), tmp_path)
    with pytest.raises(EngineError, match="CTranslate2 Whisper model"):
        engine.transcribe(np.zeros(16000, np.float32), "en")


async def test_the_http_engine_speaks_the_transcriptions_api() -> None:
    server = OpenAiLike()
    await server.start()
    try:
        engine = HttpEngine(server.url, "Systran/faster-whisper-small", api_key="k-123")
        audio = to_float(speech(SENTENCES[0]))
        heard = await asyncio.to_thread(engine.transcribe, audio, "en")
        got = server.transcriptions[0]
        assert heard.text == f"heard {len(audio) / 16000:.1f} seconds of speech"
        assert (got.model, got.language, got.rate) == ("Systran/faster-whisper-small", "en", 16000)
        assert got.authorization == "Bearer k-123"
        server.fail_with = 503
        with pytest.raises(EngineError, match=r"HTTP 503: .*overloaded"):
            await asyncio.to_thread(engine.transcribe, audio, "en")
    finally:
        await server.stop()
    with pytest.raises(EngineError, match="unreachable"):
        await asyncio.to_thread(engine.transcribe, audio, "en")


def test_garbage_audio_frames_are_counted_and_skipped() -> None:
    stream = SpeechStream("s", StreamOptions(format="opus"))
    for junk in (b"\xff" * 40, b"", b"\x00" * 70_000, bytes(range(256))):
        stream.push(junk, 1.0)
    assert stream.bad_frames >= 3 and not stream.finals
    pcm = SpeechStream("p", StreamOptions(format="pcm16"))
    pcm.push(b"\x01\x02\x03", 1.0)  # an odd byte count is no 16-bit PCM
    assert pcm.bad_frames == 1


LINES = [
    Line("Alice", "Welcome everyone, today we plan the product launch and the budget."),
    Line("Bob", "The launch needs a new landing page and the budget review."),
    Line("Alice", "We decided to move the launch to next month."),
    Line("Bob", "Maria will send the budget report by Friday."),
    Line("Alice", "I will call the printing company tomorrow."),
]


def test_the_extractive_summary_finds_subjects_decisions_and_owners() -> None:
    summary = extractive(LINES, "Launch planning")
    assert {"launch", "budget"} <= set(summary["subjects"])
    assert summary["decisions"] == ["We decided to move the launch to next month. (Alice)"]
    steps = {s["owner"]: s["deadline"] for s in summary["next_steps"]}
    assert steps["Maria"] == "by Friday" and steps["Alice"] == "tomorrow"
    assert summary["participants"] == ["Alice", "Bob"]
    text = markdown(summary)
    assert text.startswith("# Launch planning") and "owner: Maria; deadline: by Friday" in text


async def test_the_chat_summariser_speaks_the_chat_completions_api() -> None:
    server = OpenAiLike()
    server.chat_reply = chat_json(
        tldr="The launch moves to next month.",
        subjects=["launch"],
        decisions=["move the launch"],
        next_steps=[{"task": "send the report", "owner": "Maria", "deadline": "Friday"}],
        participants=["Alice", "Bob"],
    )
    await server.start()
    try:
        engine = ChatSummariser(server.url + "/v1", "llama3.1:8b")
        summary = await asyncio.to_thread(engine.summarise, LINES, "Launch planning", "en")
        assert summary["tldr"] == "The launch moves to next month."
        assert summary["next_steps"][0]["owner"] == "Maria"
        sent = server.chats[0]
        assert sent["model"] == "llama3.1:8b" and sent["messages"][0]["role"] == "system"
        assert "Maria will send the budget report by Friday." in sent["messages"][1]["content"]
        server.chat_reply = "Sure! Here is a summary: the launch moved."
        with pytest.raises(EngineError, match="did not answer the JSON"):
            await asyncio.to_thread(engine.summarise, LINES, "", "en")
    finally:
        await server.stop()
