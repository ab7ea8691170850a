"""Recording: the host's recording switch, processing, and browser-recorded uploads."""

from __future__ import annotations

import re
from typing import Any

from meetbox.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from meetbox.rtc.observer import RecordingControl
from meetbox.rtc.participant import Participant
from meetbox.rtc.room import Room
from meetbox.signalling import payloads
from meetbox.signalling.events.base import Handlers, Method, Spec, stamp

RECORDING_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Recording(Handlers):
    def table(self) -> list[tuple[Spec, Method]]:
        return [
            (
                Spec(
                    "recording",
                    ("recording",),
                    host_only=True,
                    summary="a host starts or stops the room's recording",
                ),
                self.recording,
            ),
            (
                Spec(
                    "process-recording",
                    ("recordingId", "width", "height", "fps", "layout"),
                    host_only=True,
                    summary="a host composites a stopped recording (progress events follow)",
                ),
                self.process_recording,
            ),
            (
                Spec(
                    "create-file",
                    ("recordingId", "fileName"),
                    summary="opens a browser-recorded upload",
                ),
                self.create_file,
            ),
            (
                Spec(
                    "stream",
                    ("fileId", "index", "data"),
                    flood="upload",
                    summary="one chunk of a browser-recorded upload",
                ),
                self.stream,
            ),
            (
                Spec("stop-writing", ("fileId",), summary="finishes a browser-recorded upload"),
                self.stop_writing,
            ),
        ]

    async def recording(
        self, room: Room, who: Participant, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        on = payloads.boolean(body, "recording")
        engine = self.ctx.recordings
        if engine is None:  # an SFU without a recording engine: the flag alone
            room.features.recording = on
            await self._to_room(room, "recording", {**stamp("recording", who), "recording": on})
            return None
        # the engine records, then announces the new state to the room
        if on:
            return {"recording": await engine.start(room.name, who.identity)}
        return {"recording": await engine.stop(room.name)}

    async def process_recording(
        self, room: Room, who: Participant, body: dict[str, Any]
    ) -> dict[str, Any]:
        engine = self.ctx.recordings
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
        if self.ctx.recordings is None:
            raise FailedPrecondition("this server does not record")
        return self.ctx.recordings

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
