"""The seed's room events: chat, whiteboard, mic requests, host controls, selling, recording.

Every event is scoped to the sender's room: a ``room_id``/``roomId`` naming another room is
refused, and a target ``id`` must be a participant of the sender's room. Host-only events
are checked here, on the server (``roomAdmin`` in the room token). Payloads are validated
(types, sizes, unknown fields) and floods limited (``dispatch``) before anything changes.
Broadcasts carry the seed's shape: ``{type, id, username, time, ...}``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from typing import TYPE_CHECKING, Any

from meetbox.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from meetbox.rtc.observer import RecordingControl
from meetbox.rtc.participant import Participant
from meetbox.rtc.room import Room
from meetbox.rtc.whiteboard import json_size
from meetbox.signalling import payloads
from meetbox.signalling.dispatch import ENVELOPE, Method, Spec

if TYPE_CHECKING:
    from meetbox.signalling.server import SignallingServer

logger = logging.getLogger(__name__)

RECORDING_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

MAX_CHAT = 2000
# seconds between view counts in a livestream room (see Room.livestream)
VIEW_COUNT_INTERVAL = 1.0
MAX_TEXT = 5000
MAX_BLOB = 16 * 1024


def _text(value: Any, key: str, limit: int) -> str:
    """Free text (a chat message, a reason): tabs and line breaks, no other controls."""
    return payloads.string({key: value}, key, max_len=limit, text=True)


def _stamp(kind: str, who: Participant) -> dict[str, Any]:
    return {"type": kind, "id": who.identity, "username": who.name, "time": int(time.time() * 1000)}


class RoomEventHandlers:
    def __init__(self, server: SignallingServer) -> None:
        self.server = server
        self._counts_due: set[str] = set()  # livestream rooms whose view count will go out
        self.table: list[tuple[Spec, Method]] = [
            (Spec("view_count", needs_data=False), self.view_count),
            (Spec("room.join", ("roomId", "room_id"), needs_data=False), self.room_join),
            (Spec("start-transcript", ("language",)), self.broadcast_simple),
            (Spec("chat-box", ("msg",), flood="chat"), self.chat),
            (Spec("transcript", ("msg", "final")), self.transcript),
            (Spec("request-mic", ("msg",), needs_data=False), self.request_mic),
            (Spec("request-mic-accepted", ("id",), host_only=True), self.mic_accepted),
            (Spec("request-mic-rejected", ("id",), host_only=True), self.mic_rejected),
            (Spec("mic-accepted-ack", (), needs_data=False), self.mic_ack),
            (Spec("mute-mic-request", ("id", "mute"), host_only=True), self.mute_mic_request),
            (Spec("mute-participant", ("id",), host_only=True), self.mute_participant),
            (Spec("mute-all-participants", (), host_only=True), self.mute_all),
            (Spec("remove-participant", ("id", "reason"), host_only=True), self.remove),
            (Spec("video-off", ("off",)), self.video_off),
            (Spec("device-switch", ("kind", "deviceId")), self.broadcast_simple),
            (Spec("sharing-toggle", ("sharing",)), self.sharing),
            (Spec("product-selected", ("product",)), self.product_selected),
            (Spec("sell-live", ("active", "product"), host_only=True), self.sell_live),
            (Spec("recording", ("recording",), host_only=True), self.recording),
            (
                Spec(
                    "process-recording",
                    ("recordingId", "width", "height", "fps", "layout"),
                    host_only=True,
                ),
                self.process_recording,
            ),
            (Spec("create-file", ("recordingId", "fileName")), self.create_file),
            (Spec("stream", ("fileId", "index", "data"), flood="upload"), self.stream),
            (Spec("stop-writing", ("fileId",)), self.stop_writing),
            (Spec("annotation", ("data",)), self.annotation),
            (Spec("meetingId", ("meetingId",), host_only=True), self.meeting_id),
            (Spec("whiteBoardToggle", ("open",), host_only=True), self.whiteboard_toggle),
            (Spec("whiteBoardStateRequest", (), needs_data=False), self.whiteboard_state),
            (Spec("white-board-stage", ("stage",), flood="draw"), self.whiteboard_stage),
            (Spec("sendDrawingData", ("drawingType", "payload"), flood="draw"), self.draw),
            (Spec("Un-do", (), flood="draw"), self.undo),
            (Spec("clear-whiteBoard", ()), self.clear),
        ]

    async def _to_room(
        self, room: Room, kind: str, data: dict[str, Any], skip: str | None = None
    ) -> None:
        await self.server.to_room(room.name, kind, data, skip=skip)

    async def _to_hosts(self, room: Room, kind: str, data: dict[str, Any]) -> None:
        for host in room.hosts():
            await self.server.to_connection(host.connection_id, kind, data)

    def _target(self, room: Room, body: dict[str, Any]) -> Participant:
        return room.by_identity(payloads.string(body, "id", max_len=256))

    # -- presence -------------------------------------------------------------------------

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
        }

    # -- messages ---------------------------------------------------------------------------

    async def broadcast_simple(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        kind = str(body.get("type") or "")
        extra = {k: _text(v, k, 256) for k, v in body.items() if k not in ENVELOPE}
        await self._to_room(room, kind, {**_stamp(kind, who), **extra}, skip=who.connection_id)

    async def chat(self, room: Room, who: Participant, body: dict[str, Any]) -> dict[str, Any]:
        message = {**_stamp("chat-box", who), "msg": _text(body.get("msg"), "msg", MAX_CHAT)}
        await self._to_room(room, "chat-box", message, skip=who.connection_id)
        return {"message": message}

    async def transcript(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        final = payloads.boolean(body, "final", required=False, default=True)
        message = {
            **_stamp("transcript", who),
            "msg": _text(body.get("msg"), "msg", MAX_TEXT),
            "final": final,
        }
        await self._to_room(room, "transcript", message)

    async def annotation(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        data = body.get("data")
        json_size(data, MAX_BLOB, "data")
        await self._to_room(
            room, "annotation", {**_stamp("annotation", who), "data": data}, skip=who.connection_id
        )

    async def product_selected(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        product = body.get("product")
        if not isinstance(product, dict):
            raise InvalidArgument("product must be an object")
        json_size(product, MAX_BLOB, "product")
        await self._to_room(
            room, "product-selected", {**_stamp("product-selected", who), "product": product}
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
            room, "sell-live", {**_stamp("sell-live", who), "active": active, "product": product}
        )

    async def recording(
        self, room: Room, who: Participant, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        on = payloads.boolean(body, "recording")
        engine = self.server.recordings
        if engine is None:  # an SFU without a recording engine: the flag alone
            room.features.recording = on
            await self._to_room(room, "recording", {**_stamp("recording", who), "recording": on})
            return None
        # the engine records, then announces the new state to the room
        if on:
            return {"recording": await engine.start(room.name, who.identity)}
        return {"recording": await engine.stop(room.name)}

    async def process_recording(
        self, room: Room, who: Participant, body: dict[str, Any]
    ) -> dict[str, Any]:
        engine = self.server.recordings
        if engine is None:
            raise FailedPrecondition("this server does not record")
        recording_id = payloads.string(body, "recordingId", max_len=64)
        options = {
            "width": payloads.integer(body, "width", low=64, high=3840, default=1280),
            "height": payloads.integer(body, "height", low=64, high=2160, default=720),
            "fps": payloads.integer(body, "fps", low=1, high=60, default=15),
            "layout": payloads.string(body, "layout", max_len=16, required=False, default="grid"),
        }
        return await engine.process(room.name, recording_id, options)

    def _engine(self) -> RecordingControl:
        if self.server.recordings is None:
            raise FailedPrecondition("this server does not record")
        return self.server.recordings

    async def create_file(
        self, room: Room, who: Participant, body: dict[str, Any]
    ) -> dict[str, Any]:
        if not who.grant.can_publish:
            raise PermissionDenied("this token does not allow publishing recordings")
        recording_id = payloads.string(body, "recordingId", max_len=64)
        if not RECORDING_ID.fullmatch(recording_id):
            raise InvalidArgument("recordingId is letters, digits, '_' and '-'")
        name = payloads.string(body, "fileName", max_len=200)
        engine = self._engine()
        return await engine.create_file(
            room.name, who.connection_id, who.identity, recording_id, name
        )

    async def stream(self, room: Room, who: Participant, body: dict[str, Any]) -> dict[str, Any]:
        file_id = payloads.string(body, "fileId", max_len=32)
        index = payloads.integer(body, "index", low=0, high=10_000_000, default=-1)
        if index < 0:
            raise InvalidArgument("index is required")
        data = body.get("data")
        if not isinstance(data, bytes):
            raise InvalidArgument("data must be binary")
        return await self._engine().stream(room.name, who.connection_id, file_id, index, data)

    async def stop_writing(
        self, room: Room, who: Participant, body: dict[str, Any]
    ) -> dict[str, Any]:
        file_id = payloads.string(body, "fileId", max_len=32)
        return await self._engine().stop_writing(room.name, who.connection_id, file_id)

    async def meeting_id(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        room.features.meeting_id = payloads.string(body, "meetingId", max_len=64)
        await self._to_room(
            room, "meetingId", {**_stamp("meetingId", who), "meetingId": room.features.meeting_id}
        )

    async def video_off(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        off = payloads.boolean(body, "off")
        await self._to_room(
            room, "video-off", {**_stamp("video-off", who), "off": off}, skip=who.connection_id
        )

    async def sharing(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        sharing = payloads.boolean(body, "sharing")
        await self._to_room(
            room,
            "sharing-toggle",
            {**_stamp("sharing-toggle", who), "sharing": sharing},
            skip=who.connection_id,
        )

    # -- microphone requests ----------------------------------------------------------------

    async def request_mic(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        if who.grant.may_publish("microphone"):
            raise InvalidArgument("you may already use your microphone")
        room.features.mic_requests.add(who.identity)
        message = _stamp("request-mic", who)
        if "msg" in body:
            message["msg"] = _text(body["msg"], "msg", 256)
        await self._to_hosts(room, "request-mic", message)

    async def mic_accepted(self, room: Room, host: Participant, body: dict[str, Any]) -> None:
        target = self._target(room, body)
        room.features.mic_requests.discard(target.identity)
        if not target.grant.may_publish("microphone"):
            room.features.granted.setdefault(target.identity, target.grant)
            sources = tuple(target.grant.can_publish_sources)
            if target.grant.can_publish and sources:
                sources = (*sources, "microphone")
            elif not target.grant.can_publish:
                sources = ("microphone",)
            grant = dataclasses.replace(target.grant, can_publish=True, can_publish_sources=sources)
            await room.set_grant(target, grant)
        message = {**_stamp("request-mic-accepted", host), "target": target.identity}
        await self._to_room(room, "request-mic-accepted", message)

    async def mic_rejected(self, room: Room, host: Participant, body: dict[str, Any]) -> None:
        target = self._target(room, body)
        room.features.mic_requests.discard(target.identity)
        message = {**_stamp("request-mic-rejected", host), "target": target.identity}
        await self.server.to_connection(target.connection_id, "request-mic-rejected", message)

    async def mic_ack(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        await self._to_hosts(room, "mic-accepted-ack", _stamp("mic-accepted-ack", who))

    async def _take_mic_back(self, room: Room, target: Participant) -> None:
        original = room.features.granted.pop(target.identity, None)
        if original is not None:
            await room.set_grant(target, original)

    # -- host controls ----------------------------------------------------------------------

    async def mute_mic_request(
        self, room: Room, host: Participant, body: dict[str, Any]
    ) -> dict[str, Any]:
        target = self._target(room, body)
        mute = payloads.boolean(body, "mute", required=False, default=True)
        muted: list[str] = []
        if mute:
            muted = await room.force_mute(target, "audio")
            await self._take_mic_back(room, target)
        # unmuting is asked of the participant: the server never opens someone's microphone
        message = {**_stamp("mute-mic-request", host), "target": target.identity, "mute": mute}
        await self.server.to_connection(target.connection_id, "mute-mic-request", message)
        return {"muted": muted}

    async def mute_participant(
        self, room: Room, host: Participant, body: dict[str, Any]
    ) -> dict[str, Any]:
        target = self._target(room, body)
        muted = await room.force_mute(target, "audio")
        message = {**_stamp("mute-participant", host), "target": target.identity}
        await self._to_room(room, "mute-participant", message)
        return {"muted": muted}

    async def mute_all(self, room: Room, host: Participant, body: dict[str, Any]) -> dict[str, Any]:
        muted: list[str] = []
        for p in list(room.participants.values()):
            if not p.is_host:
                muted += await room.force_mute(p, "audio")
        await self._to_room(room, "mute-all-participants", _stamp("mute-all-participants", host))
        return {"muted": muted}

    async def remove(self, room: Room, host: Participant, body: dict[str, Any]) -> None:
        target = self._target(room, body)
        if target is host:
            raise InvalidArgument("use leave to leave the room")
        reason = _text(body.get("reason", "removed by the host"), "reason", 200)
        message = {
            **_stamp("remove-participant", host),
            "target": target.identity,
            "reason": reason,
        }
        await self.server.remove_participant(room, target, message)

    # -- whiteboard -------------------------------------------------------------------------

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
