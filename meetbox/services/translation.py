"""Live speech-translation sessions (seed 002): what publishers say, recognised and
translated for each target language, sent as text to the session's control sockets.

A session is made by ``POST /session-storage/sessions`` and lives as long as its tokens
(or until a publisher ends it). When its room is live, a :class:`RoomTranslator` agent
taps the publishers' audio (in-process, as the captions' transcriber does) and sends it to
the speech workers; each final utterance is translated, in a thread, into every target
language (the session's, and those subscribers chose), and the source and target texts go
to every control socket of the session, and is spoken (text-to-speech and Opus encoding
in a worker process) into one audio track per language, published into the room by an
``interpreter-<language>`` participant of the agent's: a subscriber takes the track of
its language over WebRTC like any other. With no translation engine the session speaks
the source language.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import re
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from meetbox.auth.tokens import AccessClaims, VideoGrant
from meetbox.config import Settings
from meetbox.errors import InvalidArgument, NotFound
from meetbox.rtc.observer import ConnectionInfo, Presence, RoomRules
from meetbox.rtc.participant import Participant
from meetbox.rtc.registry import RoomRegistry
from meetbox.rtc.room import Room
from meetbox.services.captions import SpeechTap, stream_options, untap
from meetbox.sfu.synthetic import SyntheticAudio, synthetic_uptrack
from meetbox.sfu.tasks import BackgroundTasks
from meetbox.sfu.uptrack import UpTrack
from meetbox.speech import synthesis
from meetbox.speech.engines import EngineError
from meetbox.speech.pool import SpeechPool
from meetbox.speech.synthesis import VoiceConfig
from meetbox.speech.translate import NO_ENGINE, Translator, build_translator
from meetbox.speech.tts import espeak_voices

logger = logging.getLogger(__name__)

KIND = "translation"
AUTO = "auto"  # a source language left to the speech engine to detect
VOICE = "interpreter-"  # the identities of the agent's voices: interpreter-fr, ...
MAX_TARGETS = 8
# a control socket's sink: one JSON-able message
Sink = Callable[[dict[str, Any]], None]


@dataclass
class Session:
    """One session's pipeline settings and the control sockets that follow it."""

    room: str
    source_language: str
    expires_at: float
    targets: set[str] = field(default_factory=set)
    choices: dict[str, str] = field(default_factory=dict)  # subscriber identity -> language
    voices: dict[str, str] = field(default_factory=dict)  # subscriber identity -> voice
    paused: bool = False
    ended: bool = False
    sinks: set[Sink] = field(default_factory=set)
    utterances: int = 0
    latencies: list[float] = field(default_factory=list)  # end of speech -> translation

    def languages(self) -> set[str]:
        return self.targets | set(self.choices.values())

    def spoken_voices(self, language: str) -> list[str]:
        """The voices ``language`` is spoken in: the default ("") for the session's own
        targets and for subscribers who chose none, and each voice a subscriber chose."""
        voices = {
            self.voices.get(who, "") for who, lang in self.choices.items() if lang == language
        }
        if language in self.targets or not voices:
            voices.add("")
        return sorted(voices)

    def status(self, engine: str) -> dict[str, Any]:
        recent = self.latencies[-20:]
        out: dict[str, Any] = {
            "type": "status", "session": self.room, "source_language": self.source_language,
            "targets": sorted(self.targets), "chosen": dict(sorted(self.choices.items())),
            "voices": {who: v for who, v in sorted(self.voices.items()) if v},
            "paused": self.paused, "ended": self.ended, "utterances": self.utterances,
            "translation_engine": engine,
            "latency_s": round(sum(recent) / len(recent), 3) if recent else None,
        }  # fmt: skip
        if engine == "none":
            out["message"] = NO_ENGINE
        return out

    def tell(self, message: dict[str, Any]) -> None:
        for sink in list(self.sinks):
            sink(message)


class RoomTranslator:
    """The session's agent in its live room: a tap per publisher audio track, and a voice
    (participant, track, player) per language it speaks; ``close()`` ends them."""

    def __init__(self, service: TranslationSessions, session: Session, room: Room) -> None:
        self.service = service
        self.session = session
        self.room = room
        self.taps: dict[str, SpeechTap] = {}
        self.voices: dict[str, tuple[Participant, SyntheticAudio]] = {}
        self._voice_lock = asyncio.Lock()
        self.closed = False
        room.router.listeners.append(self._add)
        for up in list(room.router.uptracks.values()):
            self._add(up)

    def listen_again(self) -> None:
        """New speech streams for every publisher (in the session's new source language)."""
        for tap in list(self.taps.values()):
            tap.close()
        self.taps.clear()
        for up in list(self.room.router.uptracks.values()):
            self._add(up)

    def _add(self, up: UpTrack) -> None:
        if self.closed or up.kind != "audio" or up.closed or str(up.sid) in self.taps:
            return
        who = self.room.participants.get(up.participant_sid)
        if who is None or not who.grant.can_publish or who.identity.startswith(VOICE):
            return
        speaker = (who.identity, who.name)
        source = self.session.source_language
        language = "" if source == AUTO else source  # "": the engine detects it
        options = stream_options(self.service.settings, "opus", language)
        handle = self.service.pool.open(options, partial(self._result, speaker))
        self.taps[str(up.sid)] = SpeechTap(up, handle)

    def _result(self, speaker: tuple[str, str], kind: str, msg: tuple[Any, ...]) -> None:
        session = self.session
        if kind not in ("interim", "final") or session.paused or session.ended:
            if kind == "engine-error":
                session.tell({"type": "error", "code": "unavailable", "message": str(msg[1])})
            return
        _, stream_id, text, start, end, language, _took = msg
        if not text:
            return
        identity, name = speaker
        said = {
            "speaker": identity, "username": name, "text": text, "language": language,
            "start": int(start * 1000), "end": int(end * 1000),
            "segmentId": f"{stream_id}-{int(start * 1000)}",
        }  # fmt: skip
        session.tell({"type": "transcript", "final": kind == "final", **said})
        if kind == "final":
            session.utterances += 1
            # "auto": what the engine heard (the multilingual model detects it)
            source = language if session.source_language == AUTO else session.source_language
            said["source_language"] = source
            translating = self.service.translator.name != "none"
            for target in sorted(session.languages()):
                if target != source.split("-")[0] and target != source and translating:
                    self.service.spawn(self.service.translate(session, said, target, end, self))
            if not translating:  # no engine: the source language is spoken
                self.service.spawn(self.speak(source, text, end))

    async def voice(self, language: str, voice: str = "") -> SyntheticAudio:
        """The track of a language (and voice), published by its interpreter participant
        (``interpreter-fr``, ``interpreter-fr-fr-be``) on first use."""
        key = f"{language}-{voice}" if voice else language
        async with self._voice_lock:
            found = self.voices.get(key)
            if found is not None:
                return found[1]
            identity = f"{VOICE}{re.sub(r'[^a-z0-9-]+', '-', key.lower())}"
            grant = VideoGrant(room=self.room.name, room_join=True, can_publish=True,
                               can_subscribe=False, can_publish_data=False)  # fmt: skip
            claims = AccessClaims("", identity, f"Interpreter ({language})", "", grant,
                                  float("inf"))  # fmt: skip
            participant = await self.room.join(claims, f"agent:{identity}")
            up = synthetic_uptrack(participant.sid, "microphone", f"translation-{key}")
            player = SyntheticAudio(up, synthesis.silence())
            self.voices[key] = (participant, player)
            await self.room.publish_server_track(participant, up)
            return player

    async def speak(self, language: str, text: str, end: float, voice: str = "") -> None:
        if self.closed or not text:
            return
        try:
            packets = await self.service.synthesise(text, language, voice)
        except EngineError as exc:
            self.session.tell(
                {"type": "error", "code": "unavailable", "target": language, "message": str(exc)}
            )
            return
        if not self.closed:
            player = await self.voice(language, voice)
            player.play(packets)
            self.session.tell(
                {"type": "speech", "target": language, "voice": voice,
                 "seconds": round(len(packets) * 0.02, 2),
                 "latency_s": round(max(0.0, time.time() - end), 3)}
            )  # fmt: skip

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        untap(self.room, self._add, self.taps)
        for participant, player in list(self.voices.values()):
            await player.close()
            if participant.sid in self.room.participants:
                await self.room.remove(participant, "left")
        self.voices.clear()
        self.room.remove_agent(KIND)


class TranslationSessions:
    """Owns the sessions (by room name) and their agents; ``close()`` ends them."""

    def __init__(self, rooms: RoomRegistry, settings: Settings, pool: SpeechPool) -> None:
        self.rooms = rooms
        self.settings = settings
        self.pool = pool
        speech = settings.speech
        self.translator: Translator = build_translator(
            speech.translation_engine, speech.translation_url, speech.translation_model,
            speech.translation_api_key,
        )  # fmt: skip
        self.voice_config = VoiceConfig(
            speech.tts_engine, speech.tts_url, speech.tts_model, speech.tts_voice,
            speech.tts_api_key,
        )  # fmt: skip
        self._voices: ProcessPoolExecutor | None = None
        self.sessions: dict[str, Session] = {}
        self._tasks = BackgroundTasks()

    def spawn(self, coro: Any) -> None:
        self._tasks.spawn(coro)

    def create(self, room: str, ttl: float, source_language: str = "") -> Session:
        self._expire()
        language = source_language or self.settings.speech.language or "en"
        session = Session(room, language, time.time() + ttl)
        self.sessions[room] = session
        return session

    def _expire(self) -> None:
        now = time.time()
        for name, session in list(self.sessions.items()):
            if session.expires_at < now:
                self.sessions.pop(name, None)

    def get(self, room: str) -> Session:
        session = self.sessions.get(room)
        if session is None or session.ended:
            raise NotFound("no translation session for this room (it ended or never began)")
        return session

    def status(self, session: Session) -> dict[str, Any]:
        return session.status(self.translator.name)

    def check_voice(self, voice: str) -> None:
        """A voice a subscriber asks for: one espeak-ng has (the HTTP engine's are its own)."""
        if self.voice_config.engine == "espeak" and voice.lower() not in espeak_voices():
            raise InvalidArgument(f"espeak-ng has no voice {voice!r} (espeak-ng --voices)")

    async def synthesise(self, text: str, language: str, voice: str = "") -> list[bytes]:
        """Speech for ``text`` in ``language``, as Opus packets, made in a worker process."""
        if self._voices is None:
            self._voices = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._voices, synthesis.speak, self.voice_config, text, language, voice
            )
        except BrokenProcessPool:
            self._voices = None
            raise EngineError("the speech synthesis worker stopped: it starts again") from None

    async def translate(
        self,
        session: Session,
        said: dict[str, Any],
        target: str,
        end: float,
        agent: RoomTranslator | None = None,
    ) -> None:
        try:
            text = await asyncio.to_thread(
                self.translator.translate, said["text"], said["source_language"], target
            )
        except EngineError as exc:
            session.tell(
                {"type": "error", "code": "unavailable", "target": target, "message": str(exc)}
            )
            return
        latency = max(0.0, time.time() - end)
        session.latencies.append(latency)
        del session.latencies[:-100]
        session.tell(
            {"type": "translation", "target": target, "text": text, "source_text": said["text"],
             "source_language": said["source_language"], "speaker": said["speaker"],
             "username": said["username"], "segmentId": said["segmentId"],
             "latency_s": round(latency, 3)}
        )  # fmt: skip
        if agent is not None:
            for voice in session.spoken_voices(target):
                await agent.speak(target, text, end, voice)

    # -- what the control socket asks, checked there for permissions -----------------------

    def set_source(self, session: Session, language: str) -> None:
        session.source_language = language
        live = self.rooms.get(session.room)
        agent = live.agents.get(KIND) if live is not None else None
        if isinstance(agent, RoomTranslator):
            agent.listen_again()

    def add_target(self, session: Session, language: str) -> None:
        if language not in session.targets and len(session.languages()) >= MAX_TARGETS:
            raise InvalidArgument(f"a session translates into at most {MAX_TARGETS} languages")
        session.targets.add(language)

    async def end(self, session: Session) -> None:
        session.ended = True
        live = self.rooms.get(session.room)
        agent = live.agents.get(KIND) if live is not None else None
        if isinstance(agent, RoomTranslator):
            await agent.close()
        session.tell({"type": "ended", "session": session.room})
        self.sessions.pop(session.room, None)

    # -- the room goes live: its agent starts -----------------------------------------------

    async def joined(self, who: Presence, rules: RoomRules, info: ConnectionInfo) -> None:
        session = self.sessions.get(who.room)
        live = self.rooms.get(who.room)
        if session is None or session.ended or live is None or live.closed:
            return
        if KIND not in live.agents:
            live.add_agent(KIND, RoomTranslator(self, session, live))

    async def close(self) -> None:
        for session in list(self.sessions.values()):
            live = self.rooms.get(session.room)
            agent = live.agents.get(KIND) if live is not None else None
            if isinstance(agent, RoomTranslator):
                await agent.close()
        await self._tasks.drain(2.0)
        if self._voices is not None:
            self._voices.shutdown(wait=False, cancel_futures=True)
            self._voices = None
