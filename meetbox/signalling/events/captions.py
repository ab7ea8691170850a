"""Live captions: a host starts and stops the room's transcriber agent."""

from __future__ import annotations

import re
from typing import Any

from meetbox.errors import FailedPrecondition, InvalidArgument
from meetbox.rtc.participant import Participant
from meetbox.rtc.room import Room
from meetbox.signalling import payloads
from meetbox.signalling.events.base import Handlers, Method, Spec, stamp

LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?")


def language_of(body: dict[str, Any]) -> str | None:
    """An optional BCP 47 language (``en``, ``fr``, ``pt-BR``); "" lets the engine detect."""
    if body.get("language") is None:
        return None
    value = payloads.string(body, "language", max_len=16, required=False)
    if value and not LANGUAGE.fullmatch(value):
        raise InvalidArgument("language must be a language code such as 'en' or 'pt-BR'")
    return value


class Captions(Handlers):
    def table(self) -> list[tuple[Spec, Method]]:
        return [
            (
                Spec(
                    "start-transcript",
                    ("language",),
                    host_only=True,
                    summary="a host starts the room's live captions (the transcriber agent)",
                ),
                self.start,
            ),
            (
                Spec(
                    "stop-transcript",
                    (),
                    host_only=True,
                    summary="a host stops the room's live captions",
                ),
                self.stop,
            ),
        ]

    async def start(self, room: Room, who: Participant, body: dict[str, Any]) -> dict[str, Any]:
        language = language_of(body)
        captions = self.ctx.captions
        if captions is None:
            raise FailedPrecondition("this server runs no transcriber")
        result = await captions.start(room.name, who.identity, language)
        # the seed's notice to the others, beside the agent's own "captions" state event
        notice = {**stamp("start-transcript", who), "language": result.get("language", "")}
        await self._to_room(room, "start-transcript", notice, skip=who.connection_id)
        return result

    async def stop(self, room: Room, who: Participant, body: dict[str, Any]) -> dict[str, Any]:
        captions = self.ctx.captions
        if captions is None:
            raise FailedPrecondition("this server runs no transcriber")
        return await captions.stop(room.name, f"stopped by {who.identity}")
