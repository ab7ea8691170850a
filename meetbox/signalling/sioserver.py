"""The Socket.IO server: authenticates connections and turns events into room calls.

Every client event is answered through its ack: ``{"ok": true, ...}`` or
``{"ok": false, "error": {"code", "message"}}``. See docs/PROTOCOL.md.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import socketio
from aiohttp import web

from meetbox import jsonbounds, logs
from meetbox.auth.tokens import TokenVerifier
from meetbox.config import Settings
from meetbox.errors import (
    FailedPrecondition,
    InvalidArgument,
    MeetboxError,
    Misdirected,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)
from meetbox.rtc.observer import (
    CaptionControl,
    ConnectionInfo,
    NullObserver,
    Presence,
    RecordingControl,
    RoomObserver,
)
from meetbox.rtc.participant import Participant
from meetbox.rtc.registry import LocalRoomRegistry, RoomRegistry
from meetbox.rtc.room import Room
from meetbox.sfu.tasks import BackgroundTasks
from meetbox.signalling import payloads
from meetbox.signalling.dispatch import EventTable
from meetbox.signalling.events import GROUPS, PresenceEvents
from meetbox.signalling.flood import FloodGuard, Rate
from meetbox.signalling.sio import GuardedServer

logger = logging.getLogger(__name__)


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


def _codecs(value: Any) -> frozenset[str] | None:
    """The video codecs a client says it decodes (``auth.codecs``: MIME types)."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) > 32
        or not all(isinstance(v, str) and 0 < len(v) <= 64 for v in value)
    ):
        raise InvalidArgument("codecs must be a list of at most 32 MIME types such as 'video/VP9'")
    return frozenset(v.lower() for v in value)


class SignallingServer:
    """The Socket.IO adaptor: authenticates connections, keeps each one's session (its room
    and participant), and dispatches every event through one table
    (:mod:`meetbox.signalling.dispatch`). Owns the room registry, the bans and its
    background tasks; ``close()`` closes every room, then its tasks, then drains the
    observer's calls. Owned by :class:`meetbox.app.MeetboxServer`.
    """

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
        # told of every room broadcast before it goes out (room, event, data): the webhooks
        self.broadcast_listeners: list[Callable[[str, str, dict[str, Any]], None]] = []
        # with workers: hands an event for a room another worker holds to that worker
        self.relay: Callable[[str, str, dict[str, Any]], Awaitable[None]] | None = None
        # with workers: whether another worker holds this live room
        self.locate: Callable[[str], Awaitable[bool]] | None = None
        # the live recording engine, when the server has one (set by the server's wiring)
        self.recordings: RecordingControl | None = None
        # the caption service (the rooms' transcriber agents), likewise
        self.captions: CaptionControl | None = None
        self.rooms: RoomRegistry = registry if registry is not None else LocalRoomRegistry()
        self.sessions: dict[str, tuple[Room, Participant]] = {}  # by Socket.IO sid
        self.sio = GuardedServer(
            json=jsonbounds.WIRE,
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
        self.draining = False  # SIGTERM: the live rooms go on, no new one starts
        self.room_ended = asyncio.Event()  # set as each room closes (a drain waits on it)
        self.connects = FloodGuard(
            {"connect": Rate(settings.room.connects_per_second, settings.room.connect_burst)}
        )
        self._joining: set[str] = set()  # sids whose connect handler is running
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self.events = EventTable(self.session_of, FloodGuard())
        groups = [group(self) for group in GROUPS]
        for group in groups:
            for spec, method in group.table():
                self.events.add(spec, method)
        self.presence = next(g for g in groups if isinstance(g, PresenceEvents))
        self.events.register(self.sio)

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
        for listener in self.broadcast_listeners:
            listener(room, event, data)
        await self.sio.emit(event, data, room=room, skip_sid=skip)

    async def announce(self, room: str, event: str, data: dict[str, Any]) -> None:
        """A service's event for a live room, wherever it lives: here, or (with workers)
        on the worker holding it."""
        if self.rooms.get(room) is None and self.relay is not None:
            await self.relay(room, event, data)
        else:
            await self.to_room(room, event, data)

    async def disconnect(self, connection_id: str) -> None:
        await self.forget(connection_id)
        await self.sio.disconnect(connection_id)

    async def forget(self, sid: str) -> None:
        """The connection is no longer in its room: no session, no room broadcasts."""
        session = self.sessions.pop(sid, None)
        if session is not None:
            await self.sio.leave_room(sid, session[0].name)

    # -- connection -----------------------------------------------------------------------

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if self.closed:
            raise _refused(Unavailable("server is shutting down"))
        if sid in self.sessions or sid in self._joining or environ is not self.sio.get_environ(sid):
            # only python-socketio's own connect step comes here (sio.GuardedServer drops a
            # client's "connect" event); a second connect on a live session is refused
            raise _refused(FailedPrecondition("this connection has already joined a room"))
        self._joining.add(sid)
        try:
            await self._join(sid, environ, auth)
        finally:
            self._joining.discard(sid)

    async def _join(self, sid: str, environ: dict[str, Any], auth: Any) -> None:
        info = _info(environ)
        try:
            if self.settings.room.connects_per_second > 0:
                self.connects.check(info.address, "connect")
            if not isinstance(auth, dict):
                raise InvalidArgument("connect with auth = {token: ...}")
            data = payloads.as_dict(auth, ("token", "room", "codecs"))
            room_name = payloads.string(data, "room", max_len=256, required=False) or None
            codecs = _codecs(data.get("codecs"))
            claims = self.verifier.verify_for_room(data.get("token"), room_name)
            logs.set_context(claims.video.room, claims.identity)
            self._check_ban(claims.video.room, claims.identity)
            self._check_limits(claims.video.room)
            rules = await self.observer.rules(claims.video.room)
            room = self.rooms.get_or_create(
                claims.video.room,
                lambda: Room(claims.video.room, self.settings, self, self._room_closed, self._left),
            )
            room.room_type = rules.room_type
            room.max_participants = rules.max_participants
            participant = await room.join(claims, sid, codecs)
        except MeetboxError as exc:
            raise _refused(exc) from None
        except Exception:
            logger.exception("connect failed")
            raise _refused(MeetboxError("internal error")) from None
        self.sessions[sid] = (room, participant)
        self._observing.spawn(
            self._observe(
                partial(self.observer.joined, self._presence(room, participant), rules, info)
            )
        )
        await self.sio.enter_room(sid, room.name)
        self._tasks.spawn(self._welcome(sid, room, participant))

    async def _welcome(self, sid: str, room: Room, participant: Participant) -> None:
        snapshot = room.snapshot_for(participant)
        snapshot["state"] = self.presence.room_state(room)
        # the client's peer connections use the server's ICE servers (none on a single
        # box), never a library's public default
        snapshot["ice_servers"] = [{"urls": [url]} for url in self.settings.rtc.ice_servers]
        await self.sio.emit("room_connected", snapshot, to=sid)
        room.subscribe_existing(participant)
        if not participant.hidden:
            await self.presence.announce_view_count(room)

    async def require_here(self, room: str) -> None:
        """A request for a live room held by another worker goes there (the gateway
        replays it on :class:`Misdirected`)."""
        if self.rooms.get(room) is None and self.locate is not None and await self.locate(room):
            raise Misdirected(room)

    def down_tracks(self) -> int:
        rooms = self.rooms
        return sum(len(up.downtracks) for room in rooms for up in room.router.uptracks.values())

    def _check_limits(self, room_name: str) -> None:
        """A draining server takes no new room; a full one (``cluster.max_*``) no join."""
        live = self.rooms.get(room_name)
        limits = self.settings.cluster
        if live is None or live.closed:
            if self.draining:
                raise Unavailable("this server is draining: it starts no new rooms")
            if 0 < limits.max_rooms <= len(self.rooms):
                raise ResourceExhausted(
                    f"this server holds its limit of {limits.max_rooms} rooms (cluster.max_rooms)"
                )
        if 0 < limits.max_down_tracks <= self.down_tracks():
            raise ResourceExhausted(
                f"this server forwards its limit of {limits.max_down_tracks} down-tracks"
                " (cluster.max_down_tracks)"
            )

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
            now = time.monotonic()
            # expired bans go as new ones come: the table holds only bans in force
            for key in [k for k, until in self.bans.items() if until <= now]:
                del self.bans[key]
            self.bans[(room.name, target.identity)] = now + ban
        await self.to_room(room.name, "remove-participant", message)
        await room.remove(target, "removed")

    def session_of(self, sid: str) -> tuple[Room, Participant]:
        session = self.sessions.get(sid)
        if session is None or session[1].closed:
            raise FailedPrecondition("this connection is not in a room")
        return session

    async def _disconnect(self, sid: str, *args: Any) -> None:
        # only python-socketio's own disconnect step comes here (sio.GuardedServer drops a
        # client's "disconnect" event); flood buckets outlive the connection on purpose
        if self.recordings is not None:
            self.recordings.forget_uploads(sid)
        session = self.sessions.get(sid)
        await self.forget(sid)  # the socket is gone: only the session is left to drop
        if session is not None:
            room, participant = session
            await room.remove(participant, "disconnected")

    def _room_closed(self, room: Room) -> None:
        self.rooms.remove(room)
        self.room_ended.set()
        self._observing.spawn(self._observe(partial(self.observer.closed, room.name, room.sid)))

    def _left(self, room: Room, participant: Participant) -> None:
        presence = self._presence(room, participant)
        self._observing.spawn(self._observe(partial(self.observer.left, presence)))
        if not participant.hidden and not room.closed:
            self._tasks.spawn(self.presence.announce_view_count(room))

    @staticmethod
    def _presence(room: Room, participant: Participant) -> Presence:
        return Presence(
            room.name, room.sid, participant.identity, participant.name, participant.hidden
        )

    @staticmethod
    async def _observe(call: Callable[[], Awaitable[None]]) -> None:
        """Runs an observer call; made only once the task runs, so that a task cancelled
        before it starts (at shutdown) leaves no coroutine that was never awaited."""
        try:
            await call()
        except Exception:
            # the observer records; a failure there must not disturb the room
            logger.exception("room observer failed")

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for room in list(self.rooms):
            await room.close()
        await self._tasks.close()
        await self._observing.drain(self.settings.store.timeout)
