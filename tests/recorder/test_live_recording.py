"""Live recording through the SFU: the host starts it, files per participant, remuxed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from meetbox.client import ClientError
from meetbox.server import EmbeddedServer
from tests.recorder.helpers import inspect, publish_av

pytestmark = pytest.mark.timeout(90)


async def test_a_room_of_two_is_recorded_into_one_file_each(
    meetbox_server: EmbeddedServer,
) -> None:
    ann = meetbox_server.client("rec", "ann", room_admin=True)
    ben = meetbox_server.client("rec", "ben")
    async with ann, ben:
        await publish_av(ann)
        await publish_av(ben)
        room = meetbox_server.room("rec")
        assert room is not None
        await ann.wait_for(lambda: len(room.router.uptracks) == 4 or None, timeout=20)
        with pytest.raises(ClientError, match="permission_denied"):
            await ben.send("recording", {"recording": True})
        started = await ann.send("recording", {"recording": True})
        assert started["recording"]["recording"] is True
        began = time.monotonic()
        await ben.wait_for(lambda: ben.received("recording") or None)
        assert ben.received("recording")[0]["recording"] is True
        with pytest.raises(ClientError, match="already_exists"):
            await ann.send("recording", {"recording": True})
        await asyncio.sleep(4)  # recording: the time being measured
        stopped = await ann.send("recording", {"recording": False})
        recorded = time.monotonic() - began
        assert stopped["recording"]["recording"] is False
        await ben.wait_for(lambda: len(ben.received("recording")) >= 2 or None)
        final = ben.received("recording")[1]
        assert final["recording"] is False and final["reason"] == "stopped"
        assert {f["fileName"] for f in final["files"]} == {"ann-01.webm", "ben-01.webm"}
        assert not room.features.recording
    server = meetbox_server.server
    assert server is not None
    folder = next((server.settings.server.data_dir / "recordings").rglob("ann-01.webm")).parent
    for name in ("ann-01.webm", "ben-01.webm"):
        facts = inspect(Path(folder, name))
        assert (facts.video_codec, facts.audio_codec) == ("vp8", "opus"), name
        assert (facts.width, facts.height) == (320, 240)
        # the file starts at the first keyframe after the start: allow its wait
        assert recorded * 0.85 < facts.duration < recorded * 1.05, (name, facts, recorded)
        assert abs(facts.video_start - facts.audio_start) < 0.050, facts
        assert facts.decoded_frames >= 25 * facts.duration
    docs = await server.store.recordings.find({"roomId": "rec"})
    assert len(docs) == 1 and docs[0]["state"] == "stopped"
    assert docs[0]["fileSize"] == sum(f["fileSize"] for f in final["files"]) > 0
