"""One way in for every client event: the event table and the one wrapper around it.

Each event is declared once by a :class:`Spec` (its payload fields, who may send it, its
flood class) beside its handler. :class:`EventTable` registers them all with the
Socket.IO server through one wrapper, which:

- takes exactly one payload argument (or none): an event sent with more is answered
  ``invalid_argument``, never a ``TypeError`` in a task nobody awaits;
- finds the sender's room and participant, and refuses a connection in no room;
- applies the flood limit of the event's class, kept per room and identity, so that
  reconnecting does not refill it;
- checks the payload's shape (an object of known fields, the seed's envelope scoped to
  the sender's room) and the sender's rights (host-only events, ``canPublishData``);
- maps a ``MeetboxError`` to its ack, and any other exception to an ``internal`` ack and
  one log line naming the event, the participant and where it failed.

An event no handler knows is answered ``invalid_argument`` too (the catch-all handler).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from meetbox import logs
from meetbox.errors import InvalidArgument, MeetboxError, PermissionDenied, origin
from meetbox.rtc.participant import Participant
from meetbox.rtc.room import Room
from meetbox.signalling import payloads
from meetbox.signalling.flood import FloodGuard

if TYPE_CHECKING:
    import socketio

logger = logging.getLogger(__name__)

# the seed's envelope: fields every room event may carry beside its own
ENVELOPE = ("type", "room_id", "roomId", "socketId")
MAX_EVENT_NAME = 64

Ack = dict[str, Any]
Method = Callable[[Room, Participant, dict[str, Any]], Awaitable[dict[str, Any] | None]]
SessionOf = Callable[[str], tuple[Room, Participant]]


@dataclass(frozen=True)
class Spec:
    name: str
    fields: tuple[str, ...] = ()
    host_only: bool = False
    flood: str = "event"
    needs_data: bool = True  # the token's canPublishData
    envelope: bool = True  # the seed's room events carry ENVELOPE; the media ones do not
    summary: str = ""


def error_ack(exc: MeetboxError) -> Ack:
    """The one mapping from an error to an ack."""
    return {"ok": False, "error": exc.to_dict()}


class EventTable:
    def __init__(self, session_of: SessionOf, flood: FloodGuard) -> None:
        self._session_of = session_of
        self.flood = flood
        self.entries: dict[str, tuple[Spec, Method]] = {}
        self._allowed: dict[str, tuple[str, ...]] = {}  # each event's payload fields

    def add(self, spec: Spec, method: Method) -> None:
        if spec.name in self.entries:
            raise ValueError(f"event {spec.name!r} is declared twice")
        if spec.flood not in self.flood.rates:
            raise ValueError(f"event {spec.name!r}: unknown flood class {spec.flood!r}")
        self.entries[spec.name] = (spec, method)
        self._allowed[spec.name] = (*spec.fields, *ENVELOPE) if spec.envelope else spec.fields

    def register(self, sio: socketio.AsyncServer) -> None:
        for name in self.entries:
            sio.on(name, self._handler(name))
        sio.on("*", self._unknown)

    def _handler(self, name: str) -> Callable[..., Awaitable[Ack]]:
        async def handle(sid: str, *args: Any) -> Ack:
            return await self.call(name, sid, args)

        return handle

    async def _unknown(self, event: Any, sid: str, *args: Any) -> Ack:
        shown = str(event)[:MAX_EVENT_NAME]
        return error_ack(InvalidArgument(f"unknown event {shown!r}"))

    async def call(self, name: str, sid: str, args: tuple[Any, ...]) -> Ack:
        spec, method = self.entries[name]
        who = sid
        try:
            if len(args) > 1:
                raise InvalidArgument(f"{name} takes one payload argument, not {len(args)}")
            room, sender = self._session_of(sid)
            logs.set_context(room.name, sender.identity)
            who = f"{sender.identity!r} in room {room.name!r}"
            self.flood.check((room.name, sender.identity), spec.flood)
            data = args[0] if args else None
            body = payloads.as_dict(data, self._allowed[name])
            if spec.envelope:
                body = self._scoped(spec, room, body)
            if spec.host_only and not sender.is_host:
                raise PermissionDenied(f"{name} is for the room's host only")
            if spec.needs_data and not sender.grant.can_publish_data:
                raise PermissionDenied("this token does not allow sending data")
            result = await method(room, sender, body)
        except MeetboxError as exc:
            return error_ack(exc)
        except Exception as exc:
            logger.error(
                "event %s from %s failed: %s: %s (at %s)",
                name,
                who,
                type(exc).__name__,
                str(exc)[:200],
                origin(exc),
            )
            return {"ok": False, "error": {"code": "internal", "message": "internal error"}}
        return {"ok": True, **(result or {})}

    @staticmethod
    def _scoped(spec: Spec, room: Room, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("type") not in (None, spec.name):
            raise InvalidArgument(f"type must be {spec.name!r}")
        for key in ("room_id", "roomId"):
            if key in body and body[key] != room.name:
                shown = str(body[key])[:80]
                raise PermissionDenied(
                    f"{spec.name}: events are scoped to your own room, not {shown!r}"
                )
        return {**body, "type": spec.name}
