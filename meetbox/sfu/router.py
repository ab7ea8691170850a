"""A room's forwarding state: its published tracks and who is speaking."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from meetbox.config import RoomSettings
from meetbox.ids import ParticipantSid, TrackSid
from meetbox.media.audiolevel import ActiveSpeakerDetector, Speaker
from meetbox.sfu.tasks import cancel_and_wait
from meetbox.sfu.uptrack import UpTrack

logger = logging.getLogger(__name__)

SpeakersCallback = Callable[[list[Speaker]], Awaitable[None]]


class Router:
    """A room's up-tracks by sid, and its active-speaker detection. Owned by the room,
    which closes it last; closing removes every up-track.
    """

    def __init__(self, settings: RoomSettings, on_speakers: SpeakersCallback) -> None:
        self.uptracks: dict[TrackSid, UpTrack] = {}
        self.detector = ActiveSpeakerDetector(
            settings.speaker_threshold_dbov, settings.speaker_interval
        )
        self._interval = settings.speaker_interval
        self._on_speakers = on_speakers
        self._last_ranking: list[object] = []
        self._task: asyncio.Task[None] | None = None
        self.closed = False
        # called with each track published from now on (a room recording's taps)
        self.listeners: list[Callable[[UpTrack], None]] = []

    def add(self, up: UpTrack) -> None:
        self.uptracks[up.sid] = up
        for listener in list(self.listeners):
            listener(up)
        if self._task is None and not self.closed:
            self._task = asyncio.create_task(self._run_speakers(), name="active-speakers")

    def remove(self, sid: TrackSid) -> UpTrack | None:
        up = self.uptracks.pop(sid, None)
        if up is not None:
            up.close()
        return up

    def on_audio_level(self, participant_sid: ParticipantSid, level: int) -> None:
        self.detector.observe(participant_sid, level, time.monotonic())

    def forget(self, participant_sid: ParticipantSid) -> None:
        self.detector.forget(participant_sid)

    async def _run_speakers(self) -> None:
        try:
            while not self.closed:
                await asyncio.sleep(self._interval)
                speakers = self.detector.speakers(time.monotonic())
                ranking = [s.key for s in speakers]
                if ranking != self._last_ranking:
                    self._last_ranking = ranking
                    speaking = set(ranking)
                    for up in self.uptracks.values():  # their videos go first on weak links
                        up.speaking = up.participant_sid in speaking
                    await self._on_speakers(speakers)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("active speaker loop failed")

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        await cancel_and_wait(self._task)
        for sid in list(self.uptracks):
            self.remove(sid)
