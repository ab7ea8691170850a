"""Host controls: mute one, mute all, remove a participant (checked on the server)."""

from __future__ import annotations

from typing import Any

from meetbox.errors import InvalidArgument
from meetbox.rtc.participant import Participant
from meetbox.rtc.room import Room
from meetbox.signalling import payloads
from meetbox.signalling.events.base import Handlers, Method, Spec, stamp, text
from meetbox.signalling.events.mic import take_mic_back


class HostControls(Handlers):
    def table(self) -> list[tuple[Spec, Method]]:
        return [
            (
                Spec(
                    "mute-mic-request",
                    ("id", "mute"),
                    host_only=True,
                    summary="a host mutes (and takes back) or asks to unmute a microphone",
                ),
                self.mute_mic_request,
            ),
            (
                Spec(
                    "mute-participant",
                    ("id",),
                    host_only=True,
                    summary="a host stops forwarding someone's audio",
                ),
                self.mute_participant,
            ),
            (
                Spec(
                    "mute-all-participants",
                    (),
                    host_only=True,
                    summary="a host stops forwarding every non-host's audio",
                ),
                self.mute_all,
            ),
            (
                Spec(
                    "remove-participant",
                    ("id", "reason"),
                    host_only=True,
                    summary="a host removes someone (banned for room.removal_ban_seconds)",
                ),
                self.remove,
            ),
        ]

    async def mute_mic_request(
        self, room: Room, host: Participant, body: dict[str, Any]
    ) -> dict[str, Any]:
        target = self._target(room, body)
        mute = payloads.boolean(body, "mute", required=False, default=True)
        muted: list[str] = []
        if mute:
            muted = await room.force_mute(target, "audio")
            await take_mic_back(room, target)
        # unmuting is asked of the participant: the server never opens someone's microphone
        message = {**stamp("mute-mic-request", host), "target": target.identity, "mute": mute}
        await self.ctx.to_connection(target.connection_id, "mute-mic-request", message)
        return {"muted": muted}

    async def mute_participant(
        self, room: Room, host: Participant, body: dict[str, Any]
    ) -> dict[str, Any]:
        target = self._target(room, body)
        muted = await room.force_mute(target, "audio")
        message = {**stamp("mute-participant", host), "target": target.identity}
        await self._to_room(room, "mute-participant", message)
        return {"muted": muted}

    async def mute_all(self, room: Room, host: Participant, body: dict[str, Any]) -> dict[str, Any]:
        muted: list[str] = []
        for p in list(room.participants.values()):
            if not p.is_host:
                muted += await room.force_mute(p, "audio")
        await self._to_room(room, "mute-all-participants", stamp("mute-all-participants", host))
        return {"muted": muted}

    async def remove(self, room: Room, host: Participant, body: dict[str, Any]) -> None:
        target = self._target(room, body)
        if target is host:
            raise InvalidArgument("use leave to leave the room")
        reason = text(body.get("reason", "removed by the host"), "reason", 200)
        message = {
            **stamp("remove-participant", host),
            "target": target.identity,
            "reason": reason,
        }
        await self.ctx.remove_participant(room, target, message)
