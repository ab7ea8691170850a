"""Live captions: the transcriber agent of a room, and the service that starts it once.

The agent taps every audio up-track of its room (one speech stream per speaker, so each
segment carries its speaker's identity and name), sends the Opus packets as they are to a
speech worker process (``speech.pool``: decoding, voice detection and inference happen
there, never on this loop), and sends what comes back to the room as seed 001's
``transcript`` event: interim text while someone speaks, one final segment per utterance.
Finals are stored, encrypted, in the transcript of the room's meeting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from meetbox.config import Settings
from meetbox.errors import NotFound
from meetbox.media.rtcp import SenderReport
from meetbox.media.rtp import RtpHeader
from meetbox.rtc.observer import ConnectionInfo, Presence, RoomRules
from meetbox.rtc.registry import RoomRegistry
from meetbox.rtc.room import TRANSCRIBER, Room
from meetbox.services import cipher
from meetbox.sfu.tasks import BackgroundTasks
from meetbox.sfu.uptrack import UpTrack
from meetbox.speech.engines import EngineConfig
from meetbox.speech.pool import SpeechPool, SpeechStreamHandle
from meetbox.speech.stream import StreamOptions
from meetbox.store import Store, is_id, iso, now_iso

logger = logging.getLogger(__name__)

Announce = Callable[[str, str, dict[str, Any]], Awaitable[None]]
KIND = TRANSCRIBER


def engine_config(settings: Settings) -> EngineConfig:
    speech = settings.speech
    return EngineConfig(
        engine=speech.engine, model=speech.model, language=speech.language or "en",
        cache_dir=str(settings.server.data_dir / "models"), threads=speech.threads,
        cpus=speech.cpus,
        http_url=speech.http_url, http_model=speech.http_model,
        http_api_key=speech.http_api_key, http_timeout=speech.http_timeout,
    )  # fmt: skip


def stream_options(settings: Settings, fmt: str, language: str) -> StreamOptions:
    speech = settings.speech
    return StreamOptions(
        format=fmt, language=language, end_silence=speech.end_silence,
        max_utterance=speech.max_utterance, interim_interval=speech.interim_interval,
    )  # fmt: skip


def untap(room: Room, listener: Callable[[UpTrack], None], taps: dict[str, SpeechTap]) -> None:
    """An agent stops hearing its room: no new tracks, and its taps closed."""
    if listener in room.router.listeners:
        room.router.listeners.remove(listener)
    for tap in list(taps.values()):
        tap.close()


class SpeechTap:
    """Implements :class:`meetbox.sfu.uptrack.Tap`: an audio track's Opus payloads to a
    speech stream. A muted track sends nothing to its taps, so it costs nothing."""

    def __init__(self, up: UpTrack, handle: SpeechStreamHandle) -> None:
        self.up = up
        self.handle = handle
        self.closed = False
        up.add_tap(self)

    def forward(self, data: bytes, header: RtpHeader, now: float) -> None:
        if header.payload_end > header.payload_start:
            self.handle.push(data[header.payload_start : header.payload_end])

    def send_sender_report(self, report: SenderReport) -> None:
        return None

    def source_changed(self) -> None:
        return None

    def upstream_closed(self) -> None:
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.up.remove_tap(self)
        self.handle.close()  # what was being said still comes back, as a final


class RoomTranscriber:
    """The room's transcriber agent (hidden: it is no participant, it taps the tracks).

    Owns its taps and speech streams; ``close()`` (by a stop, or by the room closing)
    ends them; the finals of utterances cut short still arrive and are stored."""

    def __init__(
        self, service: CaptionService, room: Room, language: str, dispatch_id: str, by: str
    ) -> None:
        self.service = service
        self.room = room
        self.room_name = room.name
        self.language = language
        self.dispatch_id = dispatch_id
        self.requested_by = by
        self.taps: dict[str, SpeechTap] = {}  # by track sid
        self.closed = False
        self.engine_down = False
        self.finals = 0
        self._meeting: str | None = None
        room.router.listeners.append(self._add)
        for up in list(room.router.uptracks.values()):
            self._add(up)

    def _add(self, up: UpTrack) -> None:
        if self.closed or up.kind != "audio" or up.closed or up.sid in self.taps:
            return
        if up.codec.mime_type.lower() != "audio/opus":
            return
        who = self.room.participants.get(up.participant_sid)
        speaker = (who.identity, who.name) if who is not None else (str(up.participant_sid), "")
        options = stream_options(self.service.settings, "opus", self.language)
        handle = self.service.pool.open(options, partial(self._result, speaker, str(up.sid)))
        self.taps[str(up.sid)] = SpeechTap(up, handle)

    def _result(
        self, speaker: tuple[str, str], track: str, kind: str, msg: tuple[Any, ...]
    ) -> None:
        if kind in ("interim", "final"):
            _, stream_id, text, start, end, language, _took = msg
            if not text and kind == "interim":
                return
            identity, name = speaker
            event = {
                "type": "transcript", "id": identity, "username": name, "msg": text,
                "time": int(time.time() * 1000), "final": kind == "final",
                "start": int(start * 1000), "end": int(end * 1000), "language": language,
                "segmentId": f"{stream_id}-{int(start * 1000)}", "trackSid": track,
                "source": "captions",
            }  # fmt: skip
            if kind == "final":
                self.finals += 1
            if self._meeting:
                event["meetingId"] = self._meeting
            self.service.spawn(self._deliver(event))
        elif kind == "engine-error" and not self.engine_down:
            self.engine_down = True
            data = {"state": "error", "message": str(msg[1]), "retryIn": float(msg[2])}
            self.service.spawn(self._tell(data))
        elif kind == "engine-ok" and self.engine_down:
            self.engine_down = False
            self.service.spawn(self._tell({"state": "active", "recovered": True}))
        elif kind == "closed":
            self.taps.pop(track, None)

    async def _tell(self, data: dict[str, Any]) -> None:
        await self.service.announce(
            self.room_name, "captions", {"type": "captions", "language": self.language, **data}
        )

    async def _deliver(self, event: dict[str, Any]) -> None:
        # stored first: whoever has seen a final finds it in the meeting's transcript
        if event["final"] and event["msg"]:
            await self.service.store_final(self, event)
        if not self.room.closed:
            await self.service.announce(self.room_name, "transcript", event)

    async def meeting_id(self) -> str | None:
        if self._meeting is None:
            self._meeting = await self.service.meeting_of(self.room)
        return self._meeting

    async def close(self, reason: str = "room closed") -> None:
        if self.closed:
            return
        self.closed = True
        untap(self.room, self._add, self.taps)
        self.room.remove_agent(KIND)
        self.service.agents.pop(self.room.sid, None)
        await self.service.ended(self, reason)


class CaptionService:
    """Starts at most one transcriber per live room, from the REST call, the host's event or
    a meeting with ``transcriptEnabled``; owns the speech pool; ``close()`` ends them all."""

    def __init__(
        self,
        store: Store,
        rooms: RoomRegistry,
        settings: Settings,
        announce: Announce,
        transcript_secret: str,
        pool: SpeechPool | None = None,
    ) -> None:
        self.store = store
        self.rooms = rooms
        self.settings = settings
        self.announce = announce
        self.secret = transcript_secret
        self._owns_pool = pool is None
        self.pool = pool or SpeechPool(engine_config(settings), settings.speech.workers)
        self.agents: dict[str, RoomTranscriber] = {}  # by room sid
        self._lock = asyncio.Lock()
        self._tasks = BackgroundTasks()
        self.closed = False

    def spawn(self, coro: Awaitable[Any]) -> None:
        self._tasks.spawn(coro)  # type: ignore[arg-type]

    async def start(
        self, room_name: str, requested_by: str, language: str | None = None
    ) -> dict[str, Any]:
        """Dispatch the transcriber once; a second call finds the first."""
        async with self._lock:
            live = self.rooms.get(room_name)
            if live is None or live.closed:
                raise NotFound("the room is not live")
            agent = live.agents.get(KIND)
            if isinstance(agent, RoomTranscriber):
                return {"status": "already_active", "dispatchId": agent.dispatch_id,
                        "created": False, "language": agent.language}  # fmt: skip
            await self.store.dispatches.update(
                {"roomId": room_name, "agent": KIND, "state": "active"},
                set={"state": "ended", "endedAt": now_iso(), "reason": "stale"},
            )
            doc = await self.store.dispatches.insert(
                {
                    "roomId": room_name, "roomSid": live.sid, "agent": KIND, "state": "active",
                    "requestedBy": requested_by, "createdAt": now_iso(),
                }
            )  # fmt: skip
            chosen = language if language is not None else self.settings.speech.language
            agent = RoomTranscriber(self, live, chosen, doc["_id"], requested_by)
            live.add_agent(KIND, agent)
            self.agents[live.sid] = agent
        meeting = await agent.meeting_id()
        engine = self.pool.config.engine
        await agent._tell(
            {"state": "active", "by": requested_by, "engine": engine, "meetingId": meeting or ""}
        )
        logger.info("room %s: captions started by %s", room_name, requested_by)
        return {"status": "success", "dispatchId": doc["_id"], "created": True,
                "language": chosen}  # fmt: skip

    async def stop(self, room_name: str, reason: str = "stopped") -> dict[str, Any]:
        live = self.rooms.get(room_name)
        agent = live.agents.get(KIND) if live is not None else None
        if not isinstance(agent, RoomTranscriber):
            raise NotFound("captions are not running in this room")
        await agent.close(reason)
        return {"status": "stopped", "dispatchId": agent.dispatch_id}

    def active(self, room_name: str) -> bool:
        live = self.rooms.get(room_name)
        return live is not None and isinstance(live.agents.get(KIND), RoomTranscriber)

    async def ended(self, agent: RoomTranscriber, reason: str) -> None:
        await self.store.dispatches.update(
            {"_id": agent.dispatch_id},
            set={"state": "ended", "endedAt": now_iso(), "reason": reason},
        )
        await agent._tell({"state": "stopped", "reason": reason})
        logger.info("room %s: captions stopped (%s)", agent.room_name, reason)

    async def meeting_of(self, room: Room) -> str | None:
        """The meeting the room's transcript belongs to: the one the host named, else the
        newest meeting of the room."""
        named = room.features.meeting_id
        if named and is_id(named):
            doc = await self.store.meetings.get(named)
            if doc is not None and doc.get("roomId") == room.name:
                return str(doc["_id"])
        found = await self.store.meetings.find(
            {"roomId": room.name}, sort=[("createdAt", -1)], limit=1
        )
        return str(found[0]["_id"]) if found else None

    async def store_final(self, agent: RoomTranscriber, event: dict[str, Any]) -> None:
        meeting = await agent.meeting_id()
        if meeting is None:
            return  # a room with no meeting: captions, no transcript
        stored = await asyncio.to_thread(cipher.encrypt, event["msg"], self.secret)
        await self.store.transcripts.insert(
            {
                "meetingId": meeting, "userName": event["username"] or event["id"],
                "speakerId": event["id"], "message": stored, "isEncrypted": True,
                "arrivedEncrypted": False, "source": "captions",
                "language": event["language"], "start": event["start"], "end": event["end"],
                "createdAt": iso(datetime.fromtimestamp(event["start"] / 1000, UTC)),
            }
        )  # fmt: skip

    # -- a meeting with transcriptEnabled starts its captions when its room starts ------------

    async def joined(self, who: Presence, rules: RoomRules, info: ConnectionInfo) -> None:
        if who.hidden or self.active(who.room):
            return
        meetings = await self.store.meetings.find(
            {"roomId": who.room, "transcriptEnabled": True}, limit=1
        )
        if meetings:
            try:
                await self.start(who.room, "meeting")
            except NotFound:
                return

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for agent in list(self.agents.values()):
            try:
                await agent.close("server shutting down")
            except Exception:
                logger.exception("closing the transcriber of room %s", agent.room_name)
        await self._tasks.drain(5.0)
        if self._owns_pool:
            await self.pool.close()
