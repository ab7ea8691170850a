"""The shared whiteboard: open or close it, draw, stage, undo, clear; late joiners get its state."""

from __future__ import annotations

from typing import Any

from meetbox.errors import InvalidArgument
from meetbox.rtc.participant import Participant
from meetbox.rtc.room import Room
from meetbox.signalling import payloads
from meetbox.signalling.events.base import Handlers, Method, Spec


class WhiteboardEvents(Handlers):
    def table(self) -> list[tuple[Spec, Method]]:
        return [
            (
                Spec(
                    "whiteBoardToggle",
                    ("open",),
                    host_only=True,
                    summary="a host opens or closes the whiteboard",
                ),
                self.whiteboard_toggle,
            ),
            (
                Spec(
                    "whiteBoardStateRequest",
                    (),
                    needs_data=False,
                    summary="the whiteboard's state (stage and strokes)",
                ),
                self.whiteboard_state,
            ),
            (
                Spec(
                    "white-board-stage",
                    ("stage",),
                    flood="draw",
                    summary="replaces the whiteboard's stage",
                ),
                self.whiteboard_stage,
            ),
            (
                Spec(
                    "sendDrawingData",
                    ("drawingType", "payload"),
                    flood="draw",
                    summary="appends a drawing event to the whiteboard",
                ),
                self.draw,
            ),
            (Spec("Un-do", (), flood="draw", summary="removes the most recent stroke"), self.undo),
            (Spec("clear-whiteBoard", (), summary="clears the whiteboard"), self.clear),
        ]

    def _board_message(self, kind: str, room: Room, who: Participant, msg: dict[str, Any]) -> Any:
        return {
            "type": kind,
            "msg": {**msg, "socketId": who.sid, "room_id": room.name},
            "id": who.identity,
            "username": who.name,
        }

    async def whiteboard_toggle(self, room: Room, host: Participant, body: dict[str, Any]) -> None:
        room.features.whiteboard.open = payloads.boolean(body, "open")
        await self._to_room(
            room,
            "whiteBoardToggle",
            self._board_message(
                "whiteBoardToggle", room, host, {"open": room.features.whiteboard.open}
            ),
        )

    async def whiteboard_state(
        self, room: Room, who: Participant, body: dict[str, Any]
    ) -> dict[str, Any]:
        return {"state": room.features.whiteboard.state()}

    async def whiteboard_stage(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        stage = body.get("stage")
        if not isinstance(stage, dict):
            raise InvalidArgument("stage must be an object ({attrs, children})")
        room.features.whiteboard.set_stage(stage)
        await self._to_room(
            room,
            "white-board-stage",
            self._board_message("white-board-stage", room, who, {"stage": stage}),
            skip=who.connection_id,
        )

    async def draw(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        kind = payloads.string(body, "drawingType", max_len=32)
        payload = body.get("payload", {})
        if not isinstance(payload, dict):
            raise InvalidArgument("payload must be an object")
        event = {"drawingType": kind, "payload": payload}
        room.features.whiteboard.draw(who.sid, event)
        await self._to_room(
            room,
            "sendDrawingData",
            self._board_message("sendDrawingData", room, who, event),
            skip=who.connection_id,
        )

    async def undo(self, room: Room, who: Participant, body: dict[str, Any]) -> dict[str, Any]:
        undone = room.features.whiteboard.undo()
        if undone:
            await self._to_room(
                room, "Un-do", self._board_message("Un-do", room, who, {}), skip=who.connection_id
            )
        return {"undone": undone}

    async def clear(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        room.features.whiteboard.clear()
        await self._to_room(
            room,
            "clear-whiteBoard",
            self._board_message("clear-whiteBoard", room, who, {}),
            skip=who.connection_id,
        )
