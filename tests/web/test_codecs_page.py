"""VP9 and AV1, which aiortc can neither encode nor decode, forwarded without a decoder:
a Chromium publisher's camera reaches a Chromium viewer in the codec the room prefers, an
aiortc client in the same room (VP8 and H.264 only) is not sent it and is not disturbed.
(VP9 recording is not checked here: under load its file sometimes held no video.)"""

from __future__ import annotations

from typing import Any

import pytest

from meetbox.client import Client
from meetbox.server import EmbeddedServer
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
        for page in (host, viewer):
            await page.context.close()
