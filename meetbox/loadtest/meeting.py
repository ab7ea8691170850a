"""The load generator's meeting: every participant publishes and receives everyone else,
and shows the others' videos at the tile sizes of a gallery or a speaker view (it tells
the server each tile's size, as the page does, so that simulcast sends the layer a tile
needs)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from meetbox.client import Client
from meetbox.loadtest.clip import Clip
from meetbox.loadtest.cliptrack import publish_clip
from meetbox.loadtest.simulcast import SimulcastPublisher
from meetbox.media.rtpcount import RtpCounter

logger = logging.getLogger(__name__)

GALLERY_TILE = (320, 180)  # 30 people on a 1920x1080 screen: a 6 x 5 grid
STAGE_TILE = (1280, 720)
THUMBNAIL_TILE = (160, 90)


@dataclass(frozen=True)
class View:
    """The size each remote video is shown at: ``tile`` for all (a gallery), or the
    ``speaker``'s video on the ``stage`` and the others as ``tile``-sized thumbnails."""

    tile: tuple[int, int] = GALLERY_TILE
    speaker: str | None = None  # an identity
    stage: tuple[int, int] = STAGE_TILE

    @classmethod
    def named(cls, name: str, speaker: str) -> View:
        if name == "gallery":
            return cls()
        if name == "speaker":
            return cls(tile=THUMBNAIL_TILE, speaker=speaker)
        raise ValueError(f"unknown view {name!r}: gallery or speaker")

    def size(self, identity: str) -> tuple[int, int]:
        return self.stage if identity == self.speaker else self.tile


@dataclass(frozen=True)
class Media:
    """What a participant publishes: audio (only the talkers), and video as simulcast
    ``layers`` ((rid, clip), smallest first) or as one ``video`` clip."""

    audio: Clip | None = None
    video: Clip | None = None
    layers: tuple[tuple[str, Clip], ...] = ()


@dataclass
class MeetingParticipant:
    client: Client
    counter: RtpCounter
    view: View
    shown: set[str] = field(default_factory=set)  # the track sids whose size was told
    simulcast: SimulcastPublisher | None = None
    _teller: asyncio.Task[None] | None = None

    async def join(self, media: Media, talks: bool) -> None:
        await self.client.connect(timeout=30)
        if talks and media.audio is not None:
            await publish_clip(self.client, media.audio)
        if media.layers:
            self.simulcast = SimulcastPublisher(list(media.layers))
            await self.simulcast.publish(self.client)
        elif media.video is not None:
            await publish_clip(self.client, media.video)

    def start(self) -> None:
        """Tell the server each remote video's tile size as it comes (a task of its own:
        the acks of a busy server must not hold up the worker's reports)."""
        self._teller = asyncio.create_task(self._tell_sizes())

    def _untold(self) -> list[tuple[str, tuple[int, int]]]:
        client = self.client
        untold = []
        for sid, remote in list(client.remote.items()):
            if remote.kind != "video" or sid in self.shown or remote.ended.is_set():
                continue
            who = client.participants.get(remote.participant_sid, {})
            untold.append((sid, self.view.size(str(who.get("identity", "")))))
        return untold

    async def _tell_sizes(self) -> None:
        while True:
            try:
                untold = await self.client.wait_for(self._untold, timeout=3600)
            except TimeoutError:
                continue
            self.shown.update(sid for sid, _ in untold)
            await asyncio.gather(*(self._tell(sid, size) for sid, size in untold))

    async def _tell(self, sid: str, size: tuple[int, int]) -> None:
        width, height = size
        try:
            await self.client.send(
                "track_settings", {"track_sid": sid, "width": width, "height": height}
            )
        except Exception as exc:  # the track ended meanwhile: it is not shown
            logger.debug("track_settings for %s refused: %s", sid, exc)

    async def close(self) -> None:
        if self._teller is not None:
            self._teller.cancel()
            await asyncio.gather(self._teller, return_exceptions=True)
        if self.simulcast is not None:
            await self.simulcast.close()
        await self.client.close()
