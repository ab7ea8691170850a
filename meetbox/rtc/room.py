"""A room: its participants, who receives which track, and the events it announces."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from meetbox.auth.tokens import SOURCES, AccessClaims, VideoGrant
from meetbox.config import Settings
from meetbox.errors import (
    AlreadyExists,
    FailedPrecondition,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)
from meetbox.ids import ParticipantSid, TrackSid, new_participant_sid, new_room_sid
from meetbox.media.audiolevel import Speaker
from meetbox.rtc.participant import Participant
from meetbox.rtc.whiteboard import Whiteboard
from meetbox.sfu.negotiation import MediaSection
from meetbox.sfu.publisher import TrackDescription
from meetbox.sfu.router import Router
from meetbox.sfu.simulcast import SimulcastTrack
from meetbox.sfu.tasks import BackgroundTasks
from meetbox.sfu.uptrack import UpTrack

logger = logging.getLogger(__name__)

# room types whose viewers are announced to hosts only (see Room.livestream)
LIVESTREAM_TYPES = ("webinar", "live")


class RoomEvents(Protocol):
    """How a room reaches its participants' connections."""

    async def to_connection(self, connection_id: str, event: str, data: dict[str, Any]) -> None: ...

    async def to_room(
        self, room: str, event: str, data: dict[str, Any], skip: str | list[str] | None = None
    ) -> None: ...

    async def forget(self, connection_id: str) -> None:
        """The connection is out of the room: no more room broadcasts reach it."""
        ...

    async def disconnect(self, connection_id: str) -> None:
        """Closes the connection (forgetting it first)."""
        ...


class Agent(Protocol):
    """Something the server runs for a room (its recording, its transcriber): the room
    closes it first when it closes."""

    async def close(self) -> None: ...


# the kinds of agents a room can have (at most one of each)
RECORDER = "recording"
TRANSCRIBER = "transcriber"

# why a participant leaves: what its connection is told, and whether it is closed
TOLD = ("removed", "duplicate_identity", "connection_failed", "room_closed")
REASONS = ("left", "disconnected", *TOLD)


@dataclass
class RoomFeatures:
    """What a room keeps beyond media: whiteboard, meeting id, recording and selling state."""

    whiteboard: Whiteboard = field(default_factory=Whiteboard)
    meeting_id: str = ""
    recording: bool = False
    selling: dict[str, Any] | None = None
    mic_requests: set[str] = field(default_factory=set)
    # identity → its grant before the host gave it the microphone
    granted: dict[str, VideoGrant] = field(default_factory=dict)


class Room:
    """A room: its participants, its router and its agents; it knows no socket.

    Owns its participants (each closed by ``remove``), its router (the up-tracks and their
    down-tracks), its agents (the recording; closed first) and its background tasks.
    ``close()`` closes all of them in that order, is safe to call twice (a second caller
    waits for the first), and tells the registry through ``on_closed``. It reaches the
    participants' connections only through :class:`RoomEvents`.
    """

    def __init__(
        self,
        name: str,
        settings: Settings,
        events: RoomEvents,
        on_closed: Callable[[Room], None],
        on_left: Callable[[Room, Participant], None] | None = None,
    ) -> None:
        self.name = name
        self.sid = new_room_sid()
        self.settings = settings
        self.events = events
        self.participants: dict[ParticipantSid, Participant] = {}
        self.router = Router(settings.room, self._announce_speakers)
        self.closed = False
        self._on_closed = on_closed
        self._on_left = on_left
        self.features = RoomFeatures()
        self.room_type = "meeting"
        self.max_participants = 0  # 0: no limit; set from the room's rules on each join
        self._empty_timer: asyncio.TimerHandle | None = None
        self._tasks = BackgroundTasks()
        self._closed_event = asyncio.Event()  # set once close() has finished
        self.agents: dict[str, Agent] = {}  # by kind: at most one of a kind

    def add_agent(self, kind: str, agent: Agent) -> None:
        if self.closed:
            raise FailedPrecondition(f"room {self.name!r} is closed")
        if kind in self.agents:
            raise AlreadyExists(f"room {self.name!r} already has a {kind} agent")
        self.agents[kind] = agent

    def remove_agent(self, kind: str) -> None:
        self.agents.pop(kind, None)

    def info(self) -> dict[str, object]:
        return {"sid": self.sid, "name": self.name, "num_participants": len(self.participants)}

    def visible(self) -> list[Participant]:
        return [p for p in self.participants.values() if not p.hidden]

    @property
    def livestream(self) -> bool:
        """Whether viewers are announced to the hosts only.

        A viewer is a participant that is not a host and has published nothing. In
        livestream mode (LiveKit's "skip subscriber broadcast") nobody but the hosts is told
        of viewers joining, changing or leaving, so a room of a few speakers and hundreds of
        viewers does not send every viewer a message for every other one. A viewer who
        publishes is announced to everyone from then on. On for webinar and live rooms, and
        for every room with ``room.skip_viewer_broadcast``.
        """
        return self.settings.room.skip_viewer_broadcast or self.room_type in LIVESTREAM_TYPES

    def hosts(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.is_host and not p.closed]

    def known_to(self, participant: Participant) -> list[Participant]:
        """The others ``participant`` is told of: everyone visible, or in livestream mode
        (unless it is a host) the hosts and those who have published."""
        return [
            p
            for p in self.visible()
            if p is not participant and (p.announced or participant.is_host)
        ]

    async def _about(
        self, participant: Participant, event: str, data: dict[str, Any], skip: str | None = None
    ) -> None:
        """Tells the room of ``participant``: everyone if it is announced, the hosts and
        itself if it is a viewer of a livestream, nobody if it is hidden."""
        if participant.hidden:
            return
        if participant.announced:
            await self.events.to_room(self.name, event, data, skip=skip)
            return
        told = {h.connection_id for h in self.hosts()} | {participant.connection_id}
        for connection_id in sorted(told - {skip}):
            await self.events.to_connection(connection_id, event, data)

    async def _announce_on_stage(self, participant: Participant) -> None:
        """A livestream's viewer published: everyone who did not know it is told now."""
        if participant.announced or participant.hidden:
            return
        participant.announced = True
        told = [participant.connection_id, *(h.connection_id for h in self.hosts())]
        await self.events.to_room(
            self.name, "participant_joined", {"participant": participant.info()}, skip=told
        )

    def by_identity(self, identity: str) -> Participant:
        for participant in self.participants.values():
            if participant.identity == identity and not participant.closed:
                return participant
        raise NotFound(f"no participant {identity!r} in this room")

    async def force_mute(self, target: Participant, kind: str = "audio") -> list[str]:
        """Stops forwarding ``target``'s tracks of ``kind`` (a host's mute); returns their sids."""
        muted = []
        for up in list(self.router.uptracks.values()):
            if up.participant_sid == target.sid and up.kind == kind and not up.muted:
                await self.set_muted(target, up.sid, True)
                muted.append(str(up.sid))
        return muted

    async def set_grant(self, target: Participant, grant: VideoGrant) -> None:
        """Changes what ``target`` may do; tracks it may no longer publish end now."""
        target.grant = grant
        for up in list(self.router.uptracks.values()):
            if up.participant_sid == target.sid and not grant.may_publish(up.source):
                target.publisher.remove_track(up)
                await self._unpublish(up)
        await self._about(target, "participant_updated", {"participant": target.info()})

    # -- membership ---------------------------------------------------------------------

    async def join(
        self, claims: AccessClaims, connection_id: str, codecs: frozenset[str] | None = None
    ) -> Participant:
        """``codecs``: the video codecs the client decodes (None: VP8 and H.264)."""
        if self.closed:
            raise FailedPrecondition(f"room {self.name!r} is closed")
        if self.max_participants and not claims.video.hidden:
            present = [p for p in self.visible() if p.identity != claims.identity]
            if len(present) >= self.max_participants:
                raise ResourceExhausted(
                    f"room {self.name!r} is full ({self.max_participants} participants)"
                )
        for other in list(self.participants.values()):
            if other.identity == claims.identity:
                # as LiveKit does: the newest connection of an identity wins
                await self.remove(other, "duplicate_identity")
        sid = new_participant_sid()

        async def send_offer(sdp: str, mids: dict[str, str]) -> None:
            await self.events.to_connection(
                connection_id, "subscriber_offer", {"sdp": sdp, "tracks": mids}
            )

        def send_layers(up: SimulcastTrack, active: list[str]) -> None:
            # dynacast: the simulcast layers someone receives; the publisher sends only those
            data = {"track_sid": up.sid, "active": active}
            self._tasks.spawn(self.events.to_connection(connection_id, "layers", data))

        participant = Participant(
            sid,
            claims,
            connection_id,
            self.settings.rtc,
            send_offer,
            self.router.on_audio_level,
            self._connection_failed,
            send_layers,
        )
        if codecs is not None:
            participant.receives = codecs
        participant.announced = not participant.hidden and (
            participant.is_host or not self.livestream
        )
        self.participants[sid] = participant
        self._cancel_empty_timer()
        await self._about(
            participant, "participant_joined", {"participant": participant.info()}, connection_id
        )
        return participant

    def _connection_failed(self, participant: Participant) -> None:
        logger.info("room %s: %s's connection failed", self.name, participant.identity)
        self._tasks.spawn(self.remove(participant, "connection_failed"))

    async def remove(self, participant: Participant, reason: str) -> None:
        """Takes ``participant`` out of the room: the one path for every reason.

        ``left`` (its own leave) and ``disconnected`` (its socket dropped) need no word to
        the client; every other reason is told (``disconnected {reason}``) and the
        connection is closed. Either way the connection stops hearing the room, the
        participant's tracks and peer connections close, and the room is told.
        """
        if reason not in REASONS:
            raise ValueError(f"unknown reason to leave: {reason!r}")
        connection = participant.connection_id
        if reason in TOLD:
            await self.events.to_connection(connection, "disconnected", {"reason": reason})
        if reason != "disconnected":
            await self.events.forget(connection)
        await self._leave(participant, reason)
        if reason in TOLD:
            await self.events.disconnect(connection)

    def snapshot_for(self, participant: Participant) -> dict[str, object]:
        """The ``room_connected`` payload."""
        return {
            "room": self.info(),
            "participant": participant.info(),
            "participants": [p.info() for p in self.known_to(participant)],
        }

    def subscribe_existing(self, participant: Participant) -> None:
        """Auto-subscribe a newcomer to every track already published."""
        for up in self.router.uptracks.values():
            self._auto_subscribe(participant, up)

    @staticmethod
    def _auto_subscribe(participant: Participant, up: UpTrack) -> None:
        if (
            participant.grant.can_subscribe
            and up.participant_sid != participant.sid
            and participant.decodes(up)
        ):
            participant.subscriber.add(up)

    async def _leave(self, participant: Participant, reason: str) -> None:
        if self.participants.pop(participant.sid, None) is None:
            return
        self.router.forget(participant.sid)
        for up in list(self.router.uptracks.values()):
            if up.participant_sid == participant.sid:
                await self._unpublish(up, announce=False)
        await participant.close()
        self.features.mic_requests.discard(participant.identity)
        self.features.granted.pop(participant.identity, None)
        if self._on_left is not None:
            self._on_left(self, participant)
        await self._about(
            participant,
            "participant_left",
            {"sid": participant.sid, "identity": participant.identity, "reason": reason},
        )
        if not self.participants:
            self._start_empty_timer()

    # -- tracks ---------------------------------------------------------------------------

    async def publish(
        self, participant: Participant, sdp: str, meta: dict[str, dict[str, str]]
    ) -> dict[str, Any]:
        if not participant.grant.can_publish:
            raise PermissionDenied("this token does not allow publishing (canPublish is false)")

        def describe(section: MediaSection) -> TrackDescription:
            given = meta.get(section.mid, {})
            source = given.get("source") or ("microphone" if section.kind == "audio" else "camera")
            if source not in SOURCES:
                raise PermissionDenied(f"unknown track source {source!r}")
            if not participant.grant.may_publish(source):
                raise PermissionDenied(f"this token does not allow publishing {source}")
            return TrackDescription(source=source, name=given.get("name", ""))

        result = await participant.publisher.handle_offer(sdp, describe)
        if result.added:
            await self._announce_on_stage(participant)
        for up in result.removed:
            await self._unpublish(up)
        for up in result.added:
            await self._published(participant, up)
        return {
            "sdp": result.answer,
            "tracks": [{"mid": up.mid, **up.info()} for up in result.added],
        }

    async def _published(self, participant: Participant, up: UpTrack) -> None:
        self.router.add(up)
        if not participant.hidden:
            await self.events.to_room(
                self.name,
                "track_published",
                {"participant_sid": participant.sid, "track": up.info()},
                skip=participant.connection_id,
            )
        for other in self.participants.values():
            self._auto_subscribe(other, up)

    async def publish_server_track(self, participant: Participant, up: UpTrack) -> None:
        """A track the server makes (an agent's voice), published like a participant's."""
        if up.participant_sid != participant.sid or participant.sid not in self.participants:
            raise FailedPrecondition("the track's participant is not in this room")
        participant.publisher.uptracks[up.mid] = up
        await self._announce_on_stage(participant)  # a livestream's audience learns of it now
        await self._published(participant, up)

    def _owned_track(self, participant: Participant, track_sid: str) -> UpTrack:
        up = self.router.uptracks.get(TrackSid(track_sid))
        if up is None or up.participant_sid != participant.sid:
            raise NotFound(f"you have no published track {track_sid!r}")
        return up

    async def unpublish(self, participant: Participant, track_sid: str) -> None:
        up = self._owned_track(participant, track_sid)
        participant.publisher.remove_track(up)
        await self._unpublish(up)

    async def _unpublish(self, up: UpTrack, announce: bool = True) -> None:
        self.router.remove(up.sid)
        for other in self.participants.values():
            other.subscriber.remove(up.sid)
        owner = self.participants.get(up.participant_sid)
        if announce and owner is not None and not owner.hidden:
            await self.events.to_room(
                self.name,
                "track_unpublished",
                {"participant_sid": up.participant_sid, "track_sid": up.sid},
            )

    async def set_muted(self, participant: Participant, track_sid: str, muted: bool) -> None:
        up = self._owned_track(participant, track_sid)
        if up.muted == muted:
            return
        up.set_muted(muted)
        if not participant.hidden:
            await self.events.to_room(
                self.name,
                "track_muted",
                {"participant_sid": participant.sid, "track_sid": up.sid, "muted": muted},
            )

    def subscribe(self, participant: Participant, track_sid: str) -> None:
        if not participant.grant.can_subscribe:
            raise PermissionDenied("this token does not allow subscribing (canSubscribe is false)")
        up = self.router.uptracks.get(TrackSid(track_sid))
        if up is None:
            raise NotFound(f"no track {track_sid!r} in this room")
        if up.participant_sid == participant.sid:
            raise FailedPrecondition("a participant cannot subscribe to its own track")
        if not participant.decodes(up):
            raise FailedPrecondition(
                f"track {track_sid!r} is {up.codec.mime_type}, which this client did not say "
                "it decodes (connect with auth.codecs)"
            )
        participant.subscriber.add(up)

    def unsubscribe(self, participant: Participant, track_sid: str) -> None:
        up = self.router.uptracks.get(TrackSid(track_sid))
        if up is None:
            raise NotFound(f"no track {track_sid!r} in this room")
        participant.subscriber.remove(up.sid)

    async def _announce_speakers(self, speakers: list[Speaker]) -> None:
        payload = [
            {"sid": s.key, "level": s.level}
            for s in speakers
            if (p := self.participants.get(ParticipantSid(str(s.key)))) is not None and not p.hidden
        ]
        await self.events.to_room(self.name, "active_speakers", {"speakers": payload})

    # -- lifetime -------------------------------------------------------------------------

    def _start_empty_timer(self) -> None:
        if self.closed or self._empty_timer is not None:
            return
        loop = asyncio.get_running_loop()
        self._empty_timer = loop.call_later(self.settings.room.empty_timeout, self._empty_timeout)

    def _cancel_empty_timer(self) -> None:
        if self._empty_timer is not None:
            self._empty_timer.cancel()
            self._empty_timer = None

    def _empty_timeout(self) -> None:
        self._empty_timer = None
        if not self.participants and not self.closed:
            logger.info(
                "room %s closes: empty for %ss", self.name, self.settings.room.empty_timeout
            )
            self._tasks.spawn(self.close())

    async def close(self) -> None:
        """Closes the room; a second caller waits until the first one's close has ended
        (the server's shutdown waits for a room its empty timer is closing)."""
        if self.closed:
            if asyncio.current_task() not in self._tasks:
                await self._closed_event.wait()
            return
        self.closed = True
        try:
            self._cancel_empty_timer()
            for kind, agent in list(self.agents.items()):
                try:
                    await agent.close()  # its files end while the tracks still exist
                except Exception:
                    logger.exception("room %s: closing its %s agent failed", self.name, kind)
                self.agents.pop(kind, None)
            for participant in list(self.participants.values()):
                with contextlib.suppress(Exception):
                    await self.remove(participant, "room_closed")
            await self.router.close()
            await self._tasks.close()
            self._on_closed(self)
        finally:
            self._closed_event.set()
