"""What every group of event handlers shares: the room context and a few helpers.

A handler takes the sender's room, the sender and its payload (already an object of the
event's declared fields: see ``signalling.dispatch``). Beyond its room it reaches only
what :class:`RoomContext` offers, never the Socket.IO server itself.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from meetbox.rtc.observer import CaptionControl, RecordingControl
from meetbox.rtc.participant import Participant
from meetbox.rtc.room import Room
from meetbox.signalling import payloads
from meetbox.signalling.dispatch import Method, Spec

__all__ = ["Handlers", "Method", "RoomContext", "Spec", "stamp", "text"]


class RoomContext(Protocol):
    """The narrow view of the signalling server that event handlers depend on."""

    @property
    def recordings(self) -> RecordingControl | None: ...

    @property
    def captions(self) -> CaptionControl | None: ...

    async def to_room(
        self, room: str, event: str, data: dict[str, Any], skip: str | list[str] | None = None
    ) -> None: ...

    async def to_connection(self, connection_id: str, event: str, data: dict[str, Any]) -> None: ...

    async def remove_participant(
        self, room: Room, target: Participant, message: dict[str, Any]
    ) -> None: ...


def text(value: Any, key: str, limit: int) -> str:
    """Free text (a chat message, a reason): tabs and line breaks, no other controls."""
    return payloads.string({key: value}, key, max_len=limit, text=True)


def stamp(kind: str, who: Participant) -> dict[str, Any]:
    """The seed's broadcast envelope: ``{type, id, username, time}``."""
    return {"type": kind, "id": who.identity, "username": who.name, "time": int(time.time() * 1000)}


class Handlers:
    """A group of events: its table of (spec, handler) and the helpers handlers use."""

    def __init__(self, ctx: RoomContext) -> None:
        self.ctx = ctx

    def table(self) -> list[tuple[Spec, Method]]:
        raise NotImplementedError

    async def _to_room(
        self, room: Room, kind: str, data: dict[str, Any], skip: str | None = None
    ) -> None:
        await self.ctx.to_room(room.name, kind, data, skip=skip)

    async def _to_hosts(self, room: Room, kind: str, data: dict[str, Any]) -> None:
        for host in room.hosts():
            await self.ctx.to_connection(host.connection_id, kind, data)

    @staticmethod
    def _target(room: Room, body: dict[str, Any]) -> Participant:
        return room.by_identity(payloads.string(body, "id", max_len=256))
