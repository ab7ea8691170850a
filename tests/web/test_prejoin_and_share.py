"""The pre-join screen's choices, screen sharing by several people, and the phone layout."""

from __future__ import annotations

from typing import Any

from meetbox.server import EmbeddedServer
from tests.web.conftest import ARTIFACTS, VIDEO_STATE, browser_marks
from tests.web.test_meeting_page import open_page, sees_video_of

pytestmark = browser_marks(150)

SCREEN_STATE = """
(owner) => {
  const tile = [...document.querySelectorAll('.tile.screen')]
    .find((t) => t.querySelector('.name').textContent === `${owner}'s screen`);
  if (!tile) return null;
  const video = tile.querySelector('video');
  return {width: video.videoWidth, height: video.videoHeight,
          frames: video.getVideoPlaybackQuality().totalVideoFrames};
}
"""


async def option_labelled(page: Any, select: str, label: str) -> str:
    value: str = await page.eval_on_selector(
        select,
        "(el, label) => [...el.options].find((o) => o.textContent === label).value",
        label,
    )
    return value


async def test_prejoin_devices_speaker_and_joining_with_camera_and_mic_off(
    meetbox_server: EmbeddedServer, browser: Any
) -> None:
    ben = await open_page(meetbox_server, browser, "prejoin", "ben")
    context = await browser.new_context(viewport={"width": 1200, "height": 800})
    ann = await context.new_page()
    token = meetbox_server.token("prejoin", "ann", name="Ann")
    await ann.goto(f"{meetbox_server.url}/r/prejoin?token={token}")
    await ann.wait_for_function(
        "document.querySelector('#pj-mic').options.length >= 2"
        " && document.querySelector('#preview').srcObject",
        timeout=10000,
    )
    assert await ann.input_value("#pj-name") == "Ann"  # from the token, not editable
    assert await ann.get_attribute("#pj-name", "readonly") is not None
    preview = "document.querySelector('#preview').srcObject.getVideoTracks().length"
    assert await ann.evaluate(preview) == 1
    await ann.wait_for_function("document.querySelector('#pj-level').value > 0", timeout=10000)
    ARTIFACTS.mkdir(exist_ok=True)
    await ann.screenshot(path=str(ARTIFACTS / "prejoin.png"))

    mic = await option_labelled(ann, "#pj-mic", "Fake Audio Input 2")
    speaker = await option_labelled(ann, "#pj-speaker", "Fake Audio Output 1")
    await ann.select_option("#pj-mic", mic)
    await ann.select_option("#pj-speaker", speaker)
    await ann.uncheck("#pj-cam-on")
    await ann.uncheck("#pj-mic-on")
    await ann.wait_for_function(
        "!document.querySelector('#preview').srcObject", timeout=10000
    )  # nothing captured while both are off
    await ann.click("#pj-join")
    await ann.wait_for_function("window.meetbox.mine.has('audio')", timeout=15000)

    # the chosen microphone, published muted; no camera published
    used = await ann.evaluate("window.meetbox.mine.get('audio').track.getSettings().deviceId")
    assert used == mic
    assert await ann.evaluate("window.meetbox.mine.get('audio').track.enabled") is False
    assert await ann.evaluate("window.meetbox.mine.has('video')") is False
    assert await ann.get_attribute("#mic", "aria-pressed") == "true"
    await ben.locator('.tile[data-identity="ann"] .badge:not([hidden])').wait_for(timeout=10000)

    # ben's audio plays through the speaker ann chose
    await ann.wait_for_function(
        "[...window.meetbox.tiles.values()].some((t) => t.audio)", timeout=15000
    )
    sinks = await ann.evaluate(
        "[...window.meetbox.tiles.values()].filter((t) => t.audio).map((t) => t.audio.sinkId)"
    )
    assert sinks == [speaker]

    # turning the camera on publishes it now, and ben sees it
    await ann.click("#cam")
    await ann.wait_for_function("window.meetbox.mine.has('video')", timeout=15000)
    assert await ann.get_attribute("#cam", "aria-pressed") == "false"
    await sees_video_of(ben, "ann")
    # unmuting lets ben hear her
    await ann.click("#mic")
    await ben.locator('.tile[data-identity="ann"] .badge[hidden]').wait_for(
        state="attached", timeout=10000
    )
    count = await ben.evaluate("window.meetbox.audioPacketsFrom('ann')")
    await ben.wait_for_function(
        f"window.meetbox.audioPacketsFrom('ann').then((n) => n > {count + 20})", timeout=15000
    )


async def test_several_people_share_their_screens_at_once(
    meetbox_server: EmbeddedServer, browser: Any
) -> None:
    ann = await open_page(meetbox_server, browser, "share", "ann")
    ben = await open_page(meetbox_server, browser, "share", "ben")
    cat = await open_page(meetbox_server, browser, "share", "cat")
    await sees_video_of(cat, "ann")
    for page in (ann, ben):
        await page.click("#share")
        await page.wait_for_function("window.meetbox.screens.size === 1", timeout=15000)
        assert await page.text_content("#share") == "stop sharing"
    for owner in ("Ann", "Ben"):
        await cat.wait_for_function(
            f"(() => {{ const s = ({SCREEN_STATE})('{owner}');"
            " return s && s.width > 0 && s.frames > 3; })()",
            timeout=30000,
        )
    assert await cat.locator(".tile.screen").count() == 2
    assert await ann.locator(".tile.screen").count() == 2  # her own and ben's
    # the camera tiles are still there beside the screens
    assert (await cat.evaluate(VIDEO_STATE, "ben"))["width"] > 0
    ARTIFACTS.mkdir(exist_ok=True)
    await cat.screenshot(path=str(ARTIFACTS / "screen-share.png"))

    await ann.click("#share")  # stop: the room drops her screen, ben's stays
    await cat.wait_for_function(f"({SCREEN_STATE})('Ann') === null", timeout=15000)
    assert await cat.locator(".tile.screen").count() == 1
    state = await cat.evaluate(SCREEN_STATE, "Ben")
    await cat.wait_for_function(
        f"({SCREEN_STATE})('Ben').frames > {state['frames'] + 5}", timeout=15000
    )
    # and she can share again (a new m-section on the same connection)
    await ann.click("#share")
    await cat.wait_for_function(
        f"(() => {{ const s = ({SCREEN_STATE})('Ann');"
        " return s && s.width > 0 && s.frames > 3; })()",
        timeout=30000,
    )


async def test_the_meeting_page_fits_a_phone(meetbox_server: EmbeddedServer, browser: Any) -> None:
    ben = await open_page(meetbox_server, browser, "phone", "ben")
    context = await browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    phone = await context.new_page()
    token = meetbox_server.token("phone", "ann", name="Ann")
    await phone.goto(f"{meetbox_server.url}/r/phone?token={token}")
    await phone.wait_for_function("document.querySelector('#pj-camera').options.length > 0")
    fits = "document.documentElement.scrollWidth <= window.innerWidth"
    assert await phone.evaluate(fits), "the pre-join screen scrolls sideways on a phone"
    await phone.click("#pj-join")
    await sees_video_of(phone, "ben")
    await sees_video_of(ben, "ann")
    assert await phone.evaluate(fits), "the meeting page scrolls sideways on a phone"
    for button in await phone.locator("#toolbar button:visible").all():
        box = await button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert box["height"] >= 28  # big enough to tap
    tile = await phone.locator('.tile[data-identity="ben"]').bounding_box()
    assert tile is not None and tile["width"] <= 390
    ARTIFACTS.mkdir(exist_ok=True)
    await phone.screenshot(path=str(ARTIFACTS / "meeting-phone.png"), full_page=True)
