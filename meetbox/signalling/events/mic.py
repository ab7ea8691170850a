"""Microphone requests: a viewer asks, a host grants or refuses, the grant is taken back on mute."""

from __future__ import annotations

import dataclasses
from typing import Any

from meetbox.errors import InvalidArgument
from meetbox.rtc.participant import Participant
from meetbox.rtc.room import Room
from meetbox.signalling.events.base import Handlers, Method, Spec, stamp, text


async def take_mic_back(room: Room, target: Participant) -> None:
    """Gives ``target`` back the grant it had before a host gave it the microphone."""
    original = room.features.granted.pop(target.identity, None)
    if original is not None:
        await room.set_grant(target, original)


class MicRequests(Handlers):
    def table(self) -> list[tuple[Spec, Method]]:
        return [
            (
                Spec(
                    "request-mic",
                    ("msg",),
                    needs_data=False,
                    summary="asks the hosts for the microphone",
                ),
                self.request_mic,
            ),
            (
                Spec(
                    "request-mic-accepted",
                    ("id",),
                    host_only=True,
                    summary="a host grants the microphone",
                ),
                self.mic_accepted,
            ),
            (
                Spec(
                    "request-mic-rejected",
                    ("id",),
                    host_only=True,
                    summary="a host refuses the microphone",
                ),
                self.mic_rejected,
            ),
            (
                Spec(
                    "mic-accepted-ack",
                    (),
                    needs_data=False,
                    summary="tells the hosts a granted microphone is on",
                ),
                self.mic_ack,
            ),
        ]

    async def request_mic(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        if who.grant.may_publish("microphone"):
            raise InvalidArgument("you may already use your microphone")
        room.features.mic_requests.add(who.identity)
        message = stamp("request-mic", who)
        if "msg" in body:
            message["msg"] = text(body["msg"], "msg", 256)
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
        message = {**stamp("request-mic-accepted", host), "target": target.identity}
        await self._to_room(room, "request-mic-accepted", message)

    async def mic_rejected(self, room: Room, host: Participant, body: dict[str, Any]) -> None:
        target = self._target(room, body)
        room.features.mic_requests.discard(target.identity)
        message = {**stamp("request-mic-rejected", host), "target": target.identity}
        await self.ctx.to_connection(target.connection_id, "request-mic-rejected", message)

    async def mic_ack(self, room: Room, who: Participant, body: dict[str, Any]) -> None:
        await self._to_hosts(room, "mic-accepted-ack", stamp("mic-accepted-ack", who))
