"""Presence: the view count (coalesced in livestream rooms) and the room's snapshot."""

from __future__ import annotations

import asyncio
from typing import Any

from meetbox.rtc.participant import Participant
from meetbox.rtc.room import TRANSCRIBER, Room
from meetbox.signalling.events.base import Handlers, Method, RoomContext, Spec

# seconds between view counts in a livestream room (see Room.livestream)
VIEW_COUNT_INTERVAL = 1.0


class PresenceEvents(Handlers):
    def __init__(self, ctx: RoomContext) -> None:
        super().__init__(ctx)
        self._counts_due: set[str] = set()  # livestream rooms whose view count will go out

    def table(self) -> list[tuple[Spec, Method]]:
        return [
            (
                Spec("view_count", needs_data=False, summary="the number of visible participants"),
                self.view_count,
            ),
            (
                Spec(
                    "room.join",
                    ("roomId", "room_id"),
                    needs_data=False,
                    summary="the room snapshot again (room, participant, participants, state)",
                ),
                self.room_join,
            ),
        ]

    async def view_count(
        self, room: Room, who: Participant, body: dict[str, Any]
    ) -> dict[str, Any]:
        return {"count": len(room.visible())}

    async def room_join(self, room: Room, who: Participant, body: dict[str, Any]) -> dict[str, Any]:
        snapshot = room.snapshot_for(who)
        snapshot["state"] = self.room_state(room)
        return snapshot

    def room_state(self, room: Room) -> dict[str, Any]:
        f = room.features
        return {
            "meetingId": f.meeting_id,
            "recording": f.recording,
            "selling": f.selling,
            "whiteboardOpen": f.whiteboard.open,
            "captions": TRANSCRIBER in room.agents,
        }

    async def announce_view_count(self, room: Room) -> None:
        if room.livestream:
            # hundreds of viewers come and go: one count a second carries every change
            if room.sid in self._counts_due:
                return
            self._counts_due.add(room.sid)
            try:
                await asyncio.sleep(VIEW_COUNT_INTERVAL)  # gathers that second's changes
            finally:
                self._counts_due.discard(room.sid)
            if room.closed:
                return
        await self._to_room(
            room, "view_count", {"type": "view_count", "count": len(room.visible())}
        )
