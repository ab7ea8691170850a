"""Sessions for reporting, recorded as rooms run; and each room's rules, read from the store.

A session starts when the first visible participant joins a live room and ends when the
room closes. It records the room, its type, its host (the user who created the room
through the API), the domain the first participant came from, where that participant was
(GeoIP, else ``unknown``), and every participant's join and leave.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from meetbox.rtc.observer import ConnectionInfo, Presence, RoomRules
from meetbox.services.geo import GeoLocator
from meetbox.store import Store, is_id, now_iso


def day_of(moment: str) -> str:
    return moment[:10] + "T00:00:00.000Z"


@dataclass
class _Open:
    session_id: str
    started: datetime
    identities: set[str] = field(default_factory=set)


class SessionRecorder:
    """The signalling layer's ``RoomObserver``, backed by the store."""

    def __init__(self, store: Store, geo: GeoLocator) -> None:
        self.store = store
        self.geo = geo
        self._open: dict[str, _Open] = {}  # by room sid
        self._locks: dict[str, asyncio.Lock] = {}

    async def rules(self, room: str) -> RoomRules:
        doc = await self.store.rooms.get(room) if is_id(room) else None
        if doc is None:
            return RoomRules()
        return RoomRules(
            room_type=str(doc.get("type", "meeting")),
            max_participants=int(doc.get("maxParticipants") or 0),
            host_id=doc.get("ownerId") or "",
        )

    async def joined(self, who: Presence, rules: RoomRules, info: ConnectionInfo) -> None:
        if who.hidden:
            return
        lock = self._locks.setdefault(who.room_sid, asyncio.Lock())
        async with lock:
            state = self._open.get(who.room_sid)
            location = self.geo.locate(info.address)
            at = now_iso()
            if state is None:
                session = await self.store.sessions.insert(
                    {
                        "roomId": who.room,
                        "roomSid": who.room_sid,
                        "sessionType": rules.room_type,
                        "hostId": rules.host_id or None,
                        "domain": info.domain or "unknown",
                        "location": location,
                        "startedAt": at,
                        "day": day_of(at),
                        "endedAt": None,
                        "participantCount": 0,
                    }
                )
                state = self._open[who.room_sid] = _Open(session["_id"], datetime.now(UTC))
            await self.store.session_participants.insert(
                {
                    "sessionId": state.session_id,
                    "identity": who.identity,
                    "name": who.name,
                    "location": location,
                    "joinedAt": at,
                    "leftAt": None,
                }
            )
            if who.identity not in state.identities:
                state.identities.add(who.identity)
                await self.store.sessions.update(
                    {"_id": state.session_id}, inc={"participantCount": 1}
                )

    async def left(self, who: Presence) -> None:
        if who.hidden:
            return
        # the same lock as joined(): a quick join-and-leave is recorded in that order
        async with self._locks.setdefault(who.room_sid, asyncio.Lock()):
            state = self._open.get(who.room_sid)
            if state is None:
                return
            await self.store.session_participants.update(
                {"sessionId": state.session_id, "identity": who.identity, "leftAt": None},
                set={"leftAt": now_iso()},
            )

    async def closed(self, room: str, room_sid: str) -> None:
        async with self._locks.setdefault(room_sid, asyncio.Lock()):
            state = self._open.pop(room_sid, None)
            if state is not None:
                seconds = (datetime.now(UTC) - state.started).total_seconds()
                await self.store.sessions.update(
                    {"_id": state.session_id},
                    set={"endedAt": now_iso(), "durationSeconds": round(seconds, 3)},
                )
        self._locks.pop(room_sid, None)
