"""The Socket.IO server: authenticates connections and turns events into room calls.

Every client event is answered through its ack: ``{"ok": true, ...}`` or
``{"ok": false, "error": {"code", "message"}}``. See docs/PROTOCOL.md.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from aiohttp import web

from meetbox.config import Settings
from meetbox.errors import (
    FailedPrecondition,
    InvalidArgument,
    MeetboxError,
    PermissionDenied,
    Unavailable,
)
from meetbox.sfu.tasks import BackgroundTasks
from meetbox.signalling import payloads
from meetbox.signalling.observer import (
    ConnectionInfo,
    NullObserver,
    Presence,
    RecordingControl,
    RoomObserver,
)
from meetbox.signalling.participant import Participant
from meetbox.signalling.registry import LocalRoomRegistry, RoomRegistry
from meetbox.signalling.room import Room
from meetbox.signalling.roomevents import RoomEventHandlers
from meetbox.signalling.tokens import TokenVerifier

logger = logging.getLogger(__name__)

MAX_SDP = 64 * 1024
MAX_SID = 64
Handler = Callable[["SignallingServer", Participant, Any], Awaitable[dict[str, Any] | None]]


def _refused(error: MeetboxError) -> socketio.exceptions.ConnectionRefusedError:
    """The client sees ``{message, data: {code, message}}`` in its connect_error."""
    return socketio.exceptions.ConnectionRefusedError(error.message, error.to_dict())


def _info(environ: dict[str, Any]) -> ConnectionInfo:
    """The client's address and the site it came from (Origin, else Host)."""
    request = environ.get("aiohttp.request")
    address = ""
    if request is not None and request.remote:
        address = str(request.remote)
    origin = str(environ.get("HTTP_ORIGIN", "") or "")
    domain = origin.split("://", 1)[-1] if origin else str(environ.get("HTTP_HOST", "") or "")
    return ConnectionInfo(address=address, domain=domain.split(":", 1)[0].lower()[:253])


def _event(func: Handler) -> Callable[[SignallingServer, str, Any], Awaitable[dict[str, Any]]]:
    """Find the sender's participant, run the handler, and shape the ack."""

    @functools.wraps(func)
    async def wrapper(self: SignallingServer, sid: str, data: Any = None) -> dict[str, Any]:
        session = self.sessions.get(sid)
        participant = session[1] if session is not None else None
        try:
            if participant is None or participant.closed:
                raise FailedPrecondition("this connection is not in a room")
            result = await func(self, participant, data)
        except MeetboxError as exc:
            return {"ok": False, "error": exc.to_dict()}
        except Exception:
            logger.exception("event %s from %s failed", func.__name__, sid)
            return {"ok": False, "error": {"code": "internal", "message": "internal error"}}
        return {"ok": True, **(result or {})}

    return wrapper


class SignallingServer:
    def __init__(
        self,
        settings: Settings,
        verifier: TokenVerifier,
        registry: RoomRegistry | None = None,
        observer: RoomObserver | None = None,
    ) -> None:
        self.settings = settings
        self.verifier = verifier
        self.observer: RoomObserver = observer if observer is not None else NullObserver()
        # the live recording engine, when the server has one (set by the server's wiring)
        self.recordings: RecordingControl | None = None
        self.rooms: RoomRegistry = registry if registry is not None else LocalRoomRegistry()
        self.sessions: dict[str, tuple[Room, Participant]] = {}  # by Socket.IO sid
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            cors_allowed_origins=[],
            max_http_buffer_size=256 * 1024,
            logger=False,
            engineio_logger=False,
        )
        self._tasks = BackgroundTasks()
        self._observing = BackgroundTasks()  # observer calls: drained, not cut, at shutdown
        self.bans: dict[tuple[str, str], float] = {}  # (room, identity) → until (monotonic)
        self.closed = False
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        for name, handler in {
            "publish_offer": self.publish_offer,
            "subscriber_answer": self.subscriber_answer,
            "subscribe": self.subscribe,
            "unsubscribe": self.unsubscribe,
            "mute_track": self.mute_track,
            "unpublish": self.unpublish,
            "leave": self.leave,
        }.items():
            self.sio.on(name, handler)
        self.room_events = RoomEventHandlers(self)
        self.room_events.register()

    @property
    def participants(self) -> dict[str, Participant]:
        """Participants by Socket.IO sid."""
        return {sid: participant for sid, (_, participant) in self.sessions.items()}

    def attach(self, app: web.Application) -> None:
        self.sio.attach(app, socketio_path="socket.io")

    # -- RoomEvents ---------------------------------------------------------------------

    async def to_connection(self, connection_id: str, event: str, data: dict[str, Any]) -> None:
        await self.sio.emit(event, data, to=connection_id)

    async def to_room(
        self, room: str, event: str, data: dict[str, Any], skip: str | list[str] | None = None
    ) -> None:
        await self.sio.emit(event, data, room=room, skip_sid=skip)

    async def disconnect(self, connection_id: str) -> None:
        self.sessions.pop(connection_id, None)
        await self.sio.disconnect(connection_id)

    # -- connection -----------------------------------------------------------------------

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if self.closed:
            raise _refused(Unavailable("server is shutting down"))
        try:
            if not isinstance(auth, dict):
                raise InvalidArgument("connect with auth = {token: ...}")
            data = payloads.as_dict(auth, ("token", "room"))
            room_name = payloads.string(data, "room", max_len=256, required=False) or None
            claims = self.verifier.verify_for_room(data.get("token"), room_name)
            self._check_ban(claims.video.room, claims.identity)
            rules = await self.observer.rules(claims.video.room)
            room = self.rooms.get_or_create(
                claims.video.room,
                lambda: Room(claims.video.room, self.settings, self, self._room_closed, self._left),
            )
            room.room_type = rules.room_type
            room.max_participants = rules.max_participants
            participant = await room.join(claims, sid)
        except MeetboxError as exc:
            raise _refused(exc) from None
        except Exception:
            logger.exception("connect failed")
            raise _refused(MeetboxError("internal error")) from None
        self.sessions[sid] = (room, participant)
        self._observing.spawn(
            self._observe(
                self.observer.joined(self._presence(room, participant), rules, _info(environ))
            )
        )
        await self.sio.enter_room(sid, room.name)
        self._tasks.spawn(self._welcome(sid, room, participant))

    async def _welcome(self, sid: str, room: Room, participant: Participant) -> None:
        snapshot = room.snapshot_for(participant)
        snapshot["state"] = self.room_events.room_state(room)
        # the client's peer connections use the server's ICE servers (none on a single
        # box), never a library's public default
        snapshot["ice_servers"] = [{"urls": [url]} for url in self.settings.rtc.ice_servers]
        await self.sio.emit("room_connected", snapshot, to=sid)
        room.subscribe_existing(participant)
        if not participant.hidden:
            await self.room_events.announce_view_count(room)

    def _check_ban(self, room: str, identity: str) -> None:
        until = self.bans.get((room, identity))
        if until is None:
            return
        left = until - time.monotonic()
        if left <= 0:
            del self.bans[(room, identity)]
            return
        raise PermissionDenied(
            f"you were removed from this room; you may rejoin in {math.ceil(left)} s"
        )

    async def remove_participant(
        self, room: Room, target: Participant, message: dict[str, Any]
    ) -> None:
        """A host removed ``target``: its connection closes and its token cannot rejoin."""
        ban = self.settings.room.removal_ban_seconds
        if ban > 0:
            self.bans[(room.name, target.identity)] = time.monotonic() + ban
        await self.to_room(room.name, "remove-participant", message)
        await self.to_connection(target.connection_id, "disconnected", {"reason": "removed"})
        self.sessions.pop(target.connection_id, None)
        await room.leave(target, reason="removed")
        await self.sio.disconnect(target.connection_id)

    def session_of(self, sid: str) -> tuple[Room, Participant]:
        session = self.sessions.get(sid)
        if session is None or session[1].closed:
            raise FailedPrecondition("this connection is not in a room")
        return session

    async def _disconnect(self, sid: str, *args: Any) -> None:
        self.room_events.flood.forget(sid)
        if self.recordings is not None:
            self.recordings.forget_uploads(sid)
        session = self.sessions.pop(sid, None)
        if session is not None:
            room, participant = session
            await room.leave(participant, reason="disconnected")

    def _room_closed(self, room: Room) -> None:
        self.rooms.remove(room)
        self._observing.spawn(self._observe(self.observer.closed(room.name, room.sid)))

    def _left(self, room: Room, participant: Participant) -> None:
        self._observing.spawn(self._observe(self.observer.left(self._presence(room, participant))))
        if not participant.hidden and not room.closed:
            self._tasks.spawn(self.room_events.announce_view_count(room))

    @staticmethod
    def _presence(room: Room, participant: Participant) -> Presence:
        return Presence(
            room.name, room.sid, participant.identity, participant.name, participant.hidden
        )

    @staticmethod
    async def _observe(call: Awaitable[None]) -> None:
        try:
            await call
        except Exception:
            # the observer records; a failure there must not disturb the room
            logger.exception("room observer failed")

    def room_of(self, participant: Participant) -> Room:
        session = self.sessions.get(participant.connection_id)
        if session is None:
            raise FailedPrecondition("this connection is not in a room")
        return session[0]

    # -- events ---------------------------------------------------------------------------

    @_event
    async def publish_offer(self, participant: Participant, data: Any) -> dict[str, Any]:
        body = payloads.as_dict(data, ("sdp", "tracks"))
        sdp = payloads.string(body, "sdp", max_len=MAX_SDP)
        tracks = body.get("tracks", {})
        if not isinstance(tracks, dict) or len(tracks) > 32:
            raise InvalidArgument("tracks must be an object of at most 32 {mid: {source, name}}")
        meta: dict[str, dict[str, str]] = {}
        for mid, value in tracks.items():
            entry = payloads.as_dict(value, ("source", "name"))
            meta[str(mid)] = {
                "source": payloads.string(entry, "source", max_len=32, required=False),
                "name": payloads.string(entry, "name", max_len=128, required=False),
            }
        return await self.room_of(participant).publish(participant, sdp, meta)

    @_event
    async def subscriber_answer(self, participant: Participant, data: Any) -> None:
        body = payloads.as_dict(data, ("sdp",))
        await participant.subscriber.handle_answer(payloads.string(body, "sdp", max_len=MAX_SDP))

    @_event
    async def subscribe(self, participant: Participant, data: Any) -> None:
        body = payloads.as_dict(data, ("track_sid",))
        self.room_of(participant).subscribe(
            participant, payloads.string(body, "track_sid", max_len=MAX_SID)
        )

    @_event
    async def unsubscribe(self, participant: Participant, data: Any) -> None:
        body = payloads.as_dict(data, ("track_sid",))
        self.room_of(participant).unsubscribe(
            participant, payloads.string(body, "track_sid", max_len=MAX_SID)
        )

    @_event
    async def mute_track(self, participant: Participant, data: Any) -> None:
        body = payloads.as_dict(data, ("track_sid", "muted"))
        await self.room_of(participant).set_muted(
            participant,
            payloads.string(body, "track_sid", max_len=MAX_SID),
            payloads.boolean(body, "muted"),
        )

    @_event
    async def unpublish(self, participant: Participant, data: Any) -> None:
        body = payloads.as_dict(data, ("track_sid",))
        await self.room_of(participant).unpublish(
            participant, payloads.string(body, "track_sid", max_len=MAX_SID)
        )

    @_event
    async def leave(self, participant: Participant, data: Any) -> None:
        payloads.as_dict(data, ())
        room = self.room_of(participant)
        self.sessions.pop(participant.connection_id, None)
        # the client closes its socket once it has the ack
        await room.leave(participant, reason="left")

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for room in list(self.rooms):
            await room.close()
        await self._tasks.close()
        await self._observing.drain(self.settings.store.timeout)
