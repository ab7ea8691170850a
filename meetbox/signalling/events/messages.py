"""Messages to the room: chat, clients' transcript lines, annotations, selling, state flags."""

from __future__ import annotations

from typing import Any

from meetbox.errors import InvalidArgument
from meetbox.rtc.participant import Participant
from meetbox.rtc.room import Room
from meetbox.rtc.whiteboard import json_size
from meetbox.signalling import dispatch, payloads
from meetbox.signalling.events.base import Handlers, Method, Spec, stamp, text

MAX_CHAT = 2000
MAX_TEXT = 5000
MAX_BLOB = 16 * 1024


class Messages(Handlers):
    def table(self) -> list[tuple[Spec, Method]]:
        return [
            (
                Spec(
                    "chat-box",
                    ("msg",),
                    flood="chat",
                    summary="a chat message to the others (not stored)",
                ),
                self.chat,
            ),
            (
                Spec("transcript", ("msg", "final"), summary="a caption line to everyone"),
                self.transcript,
            ),
            (
                Spec("video-off", ("off",), summary="tells the others the camera is off or on"),
                self.video_off,
            ),
            (
                Spec(
                    "device-switch",
                    ("kind", "deviceId"),
                    summary="tells the others a device changed",
                ),
                self.broadcast_simple,
            ),
            (
                Spec(
                    "sharing-toggle",
                    ("sharing",),
                    summary="tells the others a screen share started or stopped",
                ),
                self.sharing,
            ),
            (
                Spec("product-selected", ("product",), summary="a product shown to everyone"),
                self.product_selected,
            ),
            (
                Spec(
                    "sell-live",
                    ("active", "product"),
                    host_only=True,
                    summary="a host starts or stops selling live",
                ),
                self.sell_live,
            ),
            (Spec("annotation", ("data",), summary="an annotation to the others"), self.annotation),
            (
                Spec(
                    "meetingId",
                    ("meetingId",),
                    host_only=True,
                    summary="a host sets the room's meeting id",
                ),
                self.meeting_id,
            ),
        ]

    async def broadcast_simple(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        kind = str(body.get("type") or "")
        extra = {k: text(v, k, 256) for k, v in body.items() if k not in dispatch.ENVELOPE}
        await self._to_room(room, kind, {**stamp(kind, who), **extra}, skip=who.connection_id)

    async def chat(self, room: Room, who: Participant, body: dict[str, Any]) -> dict[str, Any]:
        message = {**stamp("chat-box", who), "msg": text(body.get("msg"), "msg", MAX_CHAT)}
        await self._to_room(room, "chat-box", message, skip=who.connection_id)
        return {"message": message}

    async def transcript(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        final = payloads.boolean(body, "final", required=False, default=True)
        message = {
            **stamp("transcript", who),
            "msg": text(body.get("msg"), "msg", MAX_TEXT),
            "final": final,
        }
        await self._to_room(room, "transcript", message)

    async def annotation(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        data = body.get("data")
        json_size(data, MAX_BLOB, "data")
        await self._to_room(
            room, "annotation", {**stamp("annotation", who), "data": data}, skip=who.connection_id
        )

    async def product_selected(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        product = body.get("product")
        if not isinstance(product, dict):
            raise InvalidArgument("product must be an object")
        json_size(product, MAX_BLOB, "product")
        await self._to_room(
            room, "product-selected", {**stamp("product-selected", who), "product": product}
        )

    async def sell_live(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        active = payloads.boolean(body, "active")
        product = body.get("product")
        if product is not None:
            if not isinstance(product, dict):
                raise InvalidArgument("product must be an object")
            json_size(product, MAX_BLOB, "product")
        room.features.selling = {"product": product} if active else None
        await self._to_room(
            room, "sell-live", {**stamp("sell-live", who), "active": active, "product": product}
        )

    async def meeting_id(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        room.features.meeting_id = payloads.string(body, "meetingId", max_len=64)
        await self._to_room(
            room, "meetingId", {**stamp("meetingId", who), "meetingId": room.features.meeting_id}
        )

    async def video_off(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        off = payloads.boolean(body, "off")
        await self._to_room(
            room, "video-off", {**stamp("video-off", who), "off": off}, skip=who.connection_id
        )

    async def sharing(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        sharing = payloads.boolean(body, "sharing")
        await self._to_room(
            room,
            "sharing-toggle",
            {**stamp("sharing-toggle", who), "sharing": sharing},
            skip=who.connection_id,
        )
