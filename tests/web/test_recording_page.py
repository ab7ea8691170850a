"""Recording a meeting of real browsers: the host's button, everyone's indicator, and
files that hold Chromium's own VP8 and Opus, remuxed."""

from __future__ import annotations

import asyncio
from typing import Any

from meetbox.server import EmbeddedServer
from tests.recorder.helpers import inspect
from tests.web.conftest import browser_marks
from tests.web.test_meeting_page import open_page, sees_video_of

pytestmark = browser_marks(150)


async def test_the_host_records_a_meeting_of_browsers(
    meetbox_server: EmbeddedServer, browser: Any
) -> None:
    host = await open_page(meetbox_server, browser, "rec-page", "host", room_admin=True)
    ann = await open_page(meetbox_server, browser, "rec-page", "ann")
    await sees_video_of(host, "ann")
    await sees_video_of(ann, "host")
    assert await ann.locator("#record").is_hidden()  # host only
    await host.click("#record")
    await ann.locator("#recording").wait_for(state="visible", timeout=10000)
    await host.locator("#record", has_text="stop recording").wait_for(timeout=10000)
    await asyncio.sleep(4)  # the meeting being recorded
    await host.click("#record")
    await ann.locator("#recording").wait_for(state="hidden", timeout=10000)
    status = host.locator("#status", has_text="recording saved")
    await status.wait_for(timeout=10000)
    assert "ann-01.webm" in (await status.text_content() or "")
    assert meetbox_server.server is not None
    data = meetbox_server.server.settings.server.data_dir
    for name in ("host-01.webm", "ann-01.webm"):
        facts = inspect(next(data.rglob(name)))
        assert (facts.video_codec, facts.audio_codec) == ("vp8", "opus"), name
        assert 2.5 < facts.duration < 5.5, (name, facts)
        assert abs(facts.video_start - facts.audio_start) < 0.050, (name, facts)
        assert facts.decoded_frames >= 10 * facts.duration, (name, facts)
