"""The recording is an agent of its room: the room's close ends it, files complete, and a
room reusing the name right after is not recorded by it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from meetbox.server import EmbeddedServer
from meetbox.services.recording import RoomRecorder
from tests.helpers import eventually
from tests.recorder.helpers import inspect, publish_av

pytestmark = pytest.mark.timeout(90)


async def test_a_closing_room_ends_its_recording_and_a_reused_name_is_not_recorded() -> None:
    async with EmbeddedServer(room={"empty_timeout": 0.2}) as server:
        running = server.server
        assert running is not None
        engine = running.recordings
        ann = server.client("reuse", "ann", room_admin=True)
        async with ann:
            await publish_av(ann)
            room = server.room("reuse")
            assert room is not None
            await ann.wait_for(lambda: len(room.router.uptracks) == 2 or None, timeout=20)
            await ann.send("recording", {"recording": True})
            began = time.monotonic()
            assert isinstance(room.agents.get(RoomRecorder.KIND), RoomRecorder)
            await asyncio.sleep(3)  # recording: the time being measured
        # ann left: the room closes after its empty timeout, and its recording with it
        await eventually(lambda: room.closed and not engine.active, timeout=10)
        recorded = time.monotonic() - began
        assert not room.agents and not room.features.recording
        docs = await running.store.recordings.find({"roomId": "reuse"})
        assert len(docs) == 1 and docs[0]["state"] == "stopped"
        folder = next((running.settings.server.data_dir / "recordings").rglob("ann-01.webm"))
        facts = inspect(Path(folder))
        assert facts.video_codec == "vp8" and facts.audio_codec == "opus"
        assert 0.5 * recorded < facts.duration <= recorded + 0.5, (facts, recorded)
        before = sorted(p.name for p in folder.parent.iterdir())

        # the same name at once: a new room, not recorded by the old recording
        bea = server.client("reuse", "bea", room_admin=True)
        async with bea:
            await publish_av(bea)
            again = server.room("reuse")
            assert again is not None and again is not room and again.sid != room.sid
            await bea.wait_for(lambda: len(again.router.uptracks) == 2 or None, timeout=20)
            await asyncio.sleep(1.5)
            assert not engine.active and not again.agents and not again.features.recording
            assert sorted(p.name for p in folder.parent.iterdir()) == before
            assert not list(folder.parent.glob("bea-*"))
