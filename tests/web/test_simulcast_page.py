"""Simulcast in real Chromium: the page publishes three layers, a viewer with a large tile
receives the top one and a phone-sized viewer a small one, a hidden tile gets nothing and
gets its picture back when shown, and a layer nobody receives is paused at the publisher."""

from __future__ import annotations

import asyncio
from typing import Any

from meetbox.server import EmbeddedServer
from tests.web.conftest import ARTIFACTS, browser_marks

pytestmark = browser_marks(240)

# the publisher's tile on a viewer's page: its decoded width and frames so far
PICTURE = """
(identity) => {
  const video = document.querySelector(`.tile[data-identity="${identity}"] video`);
  if (!video) return null;
  return {width: video.videoWidth, frames: video.getVideoPlaybackQuality().totalVideoFrames};
}
"""

# the publisher's own camera sender: which simulcast encodings are active
ENCODINGS = """
() => {
  const entry = window.meetbox.mine.get("video");
  if (!entry) return null;
  const sender = window.meetbox.senders.get(entry.sid);
  return sender ? sender.getParameters().encodings.map((e) => [e.rid, e.active]) : null;
}
"""


async def picture(page: Any, identity: str = "pub") -> dict[str, int] | None:
    found: dict[str, int] | None = await page.evaluate(PICTURE, identity)
    return found


async def wait_picture(page: Any, test: str, timeout: float) -> dict[str, int]:
    """Until the publisher's picture on ``page`` passes ``test`` (a JS expression of
    ``p``, the picture) with frames advancing."""
    await page.wait_for_function(
        f"(() => {{ const p = ({PICTURE})('pub'); return p && p.frames > 0 && ({test}); }})()",
        timeout=timeout * 1000,
        polling=250,
    )
    before = await picture(page)
    assert before is not None
    await page.wait_for_function(
        f"(({PICTURE})('pub')?.frames || 0) > {before['frames']}", timeout=10000, polling=200
    )
    now = await picture(page)
    assert now is not None
    return now


async def join(
    browser: Any, server: EmbeddedServer, name: str, size: tuple[int, int], camera: bool
) -> Any:
    context = await browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = await context.new_page()
    url = f"{server.url}/r/simulcast?token={server.token('simulcast', name)}"
    await page.goto(url)
    await page.locator("#pj-cam-on").wait_for(timeout=10000)
    if not camera:
        await page.uncheck("#pj-cam-on")
    join_button = page.locator("#pj-join")
    await page.wait_for_function(
        "document.querySelector('#pj-camera').options.length > 0", timeout=10000
    )
    await join_button.click()
    await page.wait_for_function("window.meetbox && window.meetbox.selfSid", timeout=20000)
    return page


async def test_each_viewer_gets_the_layer_its_tile_needs(browser: Any) -> None:
    async with EmbeddedServer() as server:
        pub = await join(browser, server, "pub", (1280, 720), camera=True)
        big = await join(browser, server, "big", (1600, 1000), camera=False)
        phone = await join(browser, server, "phone", (360, 740), camera=False)
        await pub.wait_for_function(f"({ENCODINGS})()?.length === 3", timeout=20000)

        # the large viewer enlarges the publisher's tile; the phone's tile stays small
        await big.locator('.tile[data-identity="pub"]').wait_for(timeout=20000)
        await big.dblclick('.tile[data-identity="pub"]')
        large = await wait_picture(big, "p.width >= 1280", 60)
        small = await wait_picture(phone, "p.width > 0 && p.width <= 320", 60)
        assert large["width"] >= 4 * small["width"], (large, small)
        ARTIFACTS.mkdir(exist_ok=True)
        await big.screenshot(path=str(ARTIFACTS / "simulcast-large.png"))
        await phone.screenshot(path=str(ARTIFACTS / "simulcast-phone.png"))

        # the middle layer nobody receives is paused at the publisher
        await pub.wait_for_function(
            f"(() => {{ const e = ({ENCODINGS})(); return e && e[1][1] === false"
            " && e[0][1] === true && e[2][1] === true; })()",
            timeout=15000,
        )

        # the phone turns the video off: its frames stop, and the small layer is paused
        await phone.click('.tile[data-identity="pub"] .video-toggle')
        await pub.wait_for_function(
            f"(() => {{ const e = ({ENCODINGS})(); return e && e[0][1] === false; }})()",
            timeout=15000,
        )
        stopped = await picture(phone)
        await asyncio.sleep(1.5)  # the frames stay where they were: nothing comes
        assert stopped is not None
        still = await picture(phone)
        assert still is not None and still["frames"] - stopped["frames"] <= 2, (stopped, still)

        # and on again: the picture is back, small, within a few seconds
        await phone.click('.tile[data-identity="pub"] .video-toggle')
        await wait_picture(phone, f"p.width <= 320 && p.frames > {still['frames'] + 5}", 10)
        for page in (pub, big, phone):
            await page.context.close()
