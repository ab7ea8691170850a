"""What the signalling layer tells the rest of the server, and what it asks of it.

The signalling layer knows nothing of the store: the server's wiring passes an observer
that answers a room's rules (type, participant limit) before a join and records
sessions as rooms run. ``NullObserver`` is the default for an SFU without an API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class RoomRules:
    room_type: str = "meeting"
    max_participants: int = 0  # 0: no limit
    host_id: str = ""  # the user who owns the room, for the records ("" when none)


@dataclass(frozen=True)
class ConnectionInfo:
    address: str = ""
    domain: str = ""


@dataclass(frozen=True)
class Presence:
    room: str
    room_sid: str
    identity: str
    name: str
    hidden: bool


class RoomObserver(Protocol):
    async def rules(self, room: str) -> RoomRules:
        """Raises a ``MeetboxError`` to refuse the join (for example when the store is down)."""
        ...

    async def joined(self, who: Presence, rules: RoomRules, info: ConnectionInfo) -> None: ...

    async def left(self, who: Presence) -> None: ...

    async def closed(self, room: str, room_sid: str) -> None: ...


class NullObserver:
    async def rules(self, room: str) -> RoomRules:
        return RoomRules()

    async def joined(self, who: Presence, rules: RoomRules, info: ConnectionInfo) -> None:
        return None

    async def left(self, who: Presence) -> None:
        return None

    async def closed(self, room: str, room_sid: str) -> None:
        return None


class RecordingControl(Protocol):
    """Starts and stops a live room's recording (the server's recording engine). Both
    announce the new state to the room themselves; both raise a ``MeetboxError`` to refuse
    (no room, already recording, quota reached)."""

    async def start(
        self,
        room: str,
        requested_by: str,
        owner_id: str | None = None,
        recording_id: str | None = None,
    ) -> dict[str, Any]: ...

    async def stop(self, room: str, reason: str = "stopped") -> dict[str, Any]: ...

    async def process(
        self, room: str, recording_id: str, options: dict[str, Any]
    ) -> dict[str, Any]: ...

    async def create_file(
        self, room: str, connection: str, requested_by: str, recording_id: str, file_name: str
    ) -> dict[str, Any]: ...

    async def stream(
        self, room: str, connection: str, file_id: str, index: int, data: bytes
    ) -> dict[str, Any]: ...

    async def stop_writing(self, room: str, connection: str, file_id: str) -> dict[str, Any]: ...

    def forget_uploads(self, connection: str) -> None: ...


class CaptionControl(Protocol):
    """Starts and stops a live room's transcriber agent (the server's caption service); both
    announce the new state to the room; both raise a ``MeetboxError`` to refuse."""

    async def start(
        self, room: str, requested_by: str, language: str | None = None
    ) -> dict[str, Any]: ...

    async def stop(self, room: str, reason: str = "stopped") -> dict[str, Any]: ...


class JoinListener(Protocol):
    async def joined(self, who: Presence, rules: RoomRules, info: ConnectionInfo) -> None: ...


class PresenceWatcher(JoinListener, Protocol):
    async def left(self, who: Presence) -> None: ...

    async def closed(self, room: str, room_sid: str) -> None: ...


class ObserverChain:
    """An observer and listeners told of joins after it (a meeting that starts its
    captions); ``watchers`` are told of joins, leaves and ends too (the webhooks)."""

    def __init__(
        self,
        first: RoomObserver,
        *listeners: JoinListener,
        watchers: tuple[PresenceWatcher, ...] = (),
    ) -> None:
        self.first = first
        self.listeners = listeners
        self.watchers = watchers

    async def rules(self, room: str) -> RoomRules:
        return await self.first.rules(room)

    async def joined(self, who: Presence, rules: RoomRules, info: ConnectionInfo) -> None:
        for watcher in self.watchers:  # first: they only queue (the store may be slow)
            await watcher.joined(who, rules, info)
        await self.first.joined(who, rules, info)
        for listener in self.listeners:
            await listener.joined(who, rules, info)

    async def left(self, who: Presence) -> None:
        for watcher in self.watchers:
            await watcher.left(who)
        await self.first.left(who)

    async def closed(self, room: str, room_sid: str) -> None:
        for watcher in self.watchers:
            await watcher.closed(room, room_sid)
        await self.first.closed(room, room_sid)
