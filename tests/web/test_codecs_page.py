"""VP9 and AV1, which aiortc can neither encode nor decode, forwarded without a decoder:
a Chromium publisher's camera reaches a Chromium viewer in the codec the room prefers, an
aiortc client in the same room (VP8 and H.264 only) is not sent it and is not disturbed,
and the camera is recorded to a WebM file that plays."""

from __future__ import annotations

from typing import Any

import pytest

from meetbox.app import MeetboxServer
from meetbox.client import Client
from meetbox.server import EmbeddedServer
from tests.helpers import eventually
from tests.recorder.helpers import inspect
from tests.web.conftest import browser_marks
from tests.web.test_meeting_page import open_page, sees_video_of

pytestmark = browser_marks(200)

# the codec of the video the page receives from the publisher
RECEIVED_CODEC = """
async () => {
  const pc = window.meetbox.subPc;
  if (!pc) return null;
  const stats = await pc.getStats();
  let codec = null;
  stats.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video" && r.framesDecoded > 0) {
      const c = stats.get(r.codecId);
      if (c) codec = c.mimeType;
    }
  });
  return codec;
}
"""


@pytest.mark.parametrize("codec", ["vp9", "av1"])
async def test_a_room_that_prefers_a_codec_aiortc_lacks(browser: Any, codec: str) -> None:
    async with EmbeddedServer(rtc={"video_codecs": (codec, "vp8")}) as server:
        room = f"codec-{codec}"
        host = await open_page(server, browser, room, "host", room_admin=True)
        viewer = await open_page(server, browser, room, "ann")
        python = Client(server.url, server.token(room, "python"))
        async with python:
            await sees_video_of(viewer, "host")
            await viewer.wait_for_function(
                f"({RECEIVED_CODEC})().then((c) => c === 'video/{codec.upper()}')",
                timeout=20000,
                polling=500,
            )
            published = [t for t in python.published.values() if t.get("kind") == "video"]
            assert any(t["mime_type"].lower() == f"video/{codec}" for t in published)
            # the VP8-only client is not sent the video, only the audio, and stays healthy
            await python.wait_for_track(kind="audio", timeout=20)
            assert not [t for t in python.remote.values() if t.kind == "video"]
            assert python.healthy
            await host.click("#record")
            await host.locator("#record", has_text="stop recording").wait_for(timeout=10000)
            app = server.server
            assert app is not None
            # until 2 s of video are in the file (on a busy machine the camera's first
            # keyframe of the recorded layer can take a while)
            await eventually(lambda: video_frames_recorded(app, "host") >= 60, 40)
            await host.click("#record")
            status = host.locator("#status", has_text="recording saved")
            await status.wait_for(timeout=15000)
            data = app.settings.server.data_dir
            facts = inspect(next(data.rglob("host-01.webm")))
            assert facts.video_codec == {"vp9": "vp9", "av1": "libdav1d"}[codec], facts
            assert facts.width >= 320 and facts.decoded_frames >= 30, facts
        for page in (host, viewer):
            await page.context.close()


def video_frames_recorded(app: MeetboxServer, identity: str) -> int:
    """The video frames written so far into the open segment of ``identity``."""
    total = 0
    for active in app.recordings.active.values():
        who = active.recording.participants.get(identity)
        if who is not None and who.segment is not None:
            total += who.segment.written.get("video", 0)
    return total
