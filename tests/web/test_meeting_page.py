"""The meeting page in headless Chromium: chat, whiteboard, host mute and removal."""

from __future__ import annotations

import asyncio
from typing import Any

from meetbox.server import EmbeddedServer
from meetbox.web.api_auth import create_user
from tests.helpers import eventually
from tests.web.conftest import ARTIFACTS, VIDEO_STATE, browser_marks, enter

pytestmark = browser_marks(150)


async def open_page(
    server: EmbeddedServer, browser: Any, room: str, identity: str, **grant: Any
) -> Any:
    context = await browser.new_context(viewport={"width": 1200, "height": 800})
    page = await context.new_page()
    token = server.token(room, identity, name=identity.capitalize(), **grant)
    await enter(page, f"{server.url}/r/{room}?token={token}")
    await page.wait_for_function("window.meetbox && window.meetbox.self", timeout=15000)
    return page


async def sees_video_of(page: Any, identity: str) -> None:
    await page.wait_for_function(
        f"(() => {{ const s = ({VIDEO_STATE})('{identity}');"
        " return s && s.width > 0 && s.frames > 3; })()",
        timeout=30000,
    )


async def test_chat_and_whiteboard_reach_the_others_and_a_late_joiner(
    meetbox_server: EmbeddedServer,
    browser: Any,
) -> None:
    host = await open_page(meetbox_server, browser, "board", "host", room_admin=True)
    ann = await open_page(meetbox_server, browser, "board", "ann")
    await sees_video_of(host, "ann")
    await sees_video_of(ann, "host")

    await ann.fill("#chat-form input", "<img src=x onerror=alert(1)> hello")
    await ann.click("#chat-form button")
    line = host.locator("#chat-list li", has_text="hello")
    await line.wait_for(timeout=10000)
    assert await line.locator("span").text_content() == "<img src=x onerror=alert(1)> hello"
    assert await host.locator("#chat-list img").count() == 0  # text, never markup

    await host.click("#wb-toggle")
    await ann.locator("#board-panel").wait_for(state="visible", timeout=10000)
    canvas = await ann.locator("#whiteboard").bounding_box()
    assert canvas is not None
    x, y = canvas["x"] + 40, canvas["y"] + 40
    await ann.mouse.move(x, y)
    await ann.mouse.down()
    for step in range(1, 15):
        await ann.mouse.move(x + step * 12, y + step * 6)
    await ann.mouse.up()
    await host.wait_for_function("window.meetbox.board.strokes.length === 1", timeout=10000)
    assert await host.evaluate("window.meetbox.board.inkedPixels()") > 50

    late = await open_page(meetbox_server, browser, "board", "late")
    await late.wait_for_function("window.meetbox.board.strokes.length === 1", timeout=10000)
    assert await late.evaluate("window.meetbox.board.inkedPixels()") > 50
    assert await late.locator("#board-panel").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    await host.screenshot(path=str(ARTIFACTS / "meeting-page.png"))

    await host.click("#wb-undo")
    await ann.wait_for_function("window.meetbox.board.strokes.length === 0", timeout=10000)
    assert await ann.evaluate("window.meetbox.board.inkedPixels()") == 0


async def test_host_mute_stops_audio_and_removal_explains_itself(
    meetbox_server: EmbeddedServer,
    browser: Any,
) -> None:
    host = await open_page(meetbox_server, browser, "ctl", "host", room_admin=True)
    bob = await open_page(meetbox_server, browser, "ctl", "bob")
    cat = await open_page(meetbox_server, browser, "ctl", "cat")
    await sees_video_of(cat, "bob")
    await cat.wait_for_function(
        "window.meetbox.audioPacketsFrom('bob').then((n) => n > 20)", timeout=15000
    )
    await host.locator('.tile[data-identity="bob"] button.mute').click()
    await bob.wait_for_function(
        "document.getElementById('mic').getAttribute('aria-pressed') === 'true'", timeout=10000
    )
    await cat.locator('.tile[data-identity="bob"] .badge').wait_for(state="visible", timeout=10000)
    # the SFU stops forwarding bob's audio while it keeps receiving it
    room = meetbox_server.room("ctl")
    assert room is not None
    bob_sid = room.by_identity("bob").sid
    up = next(
        u
        for u in room.router.uptracks.values()
        if u.participant_sid == bob_sid and u.kind == "audio"
    )
    assert up.muted
    sent = [d.packets_sent for d in up.downtracks]

    async def received_more(than: int) -> None:
        await eventually(lambda: up.packets_received > than + 50)

    await received_more(up.packets_received)
    at_cat = await cat.evaluate("window.meetbox.audioPacketsFrom('bob')")
    await received_more(up.packets_received)
    assert [d.packets_sent for d in up.downtracks] == sent
    assert await cat.evaluate("window.meetbox.audioPacketsFrom('bob')") == at_cat

    await host.locator('.tile[data-identity="bob"] button.remove').click()
    status = bob.locator("#status.error")
    await status.wait_for(timeout=10000)
    assert "removed" in (await status.text_content() or "")
    await host.locator('.tile[data-identity="bob"]').wait_for(state="detached", timeout=10000)


async def test_home_page_creates_a_room_and_a_guest_joins_by_its_link(
    meetbox_server: EmbeddedServer, browser: Any
) -> None:
    assert meetbox_server.server is not None
    fields = {
        "email": "owner@example.com",
        "fName": "O",
        "lName": "W",
        "phoneNumber": "0000",
        "country": "Nowhere",
        "password": "Passw0rd1",
    }
    await create_user(meetbox_server.server.store, fields)
    owner = await (await browser.new_context()).new_page()
    await owner.goto(meetbox_server.url + "/")
    await owner.fill("#signin-form input[name=userName]", "owner@example.com")
    await owner.fill("#signin-form input[name=password]", "Passw0rd1")
    await owner.click("#signin-form button")
    await owner.locator("#create-panel").wait_for(state="visible", timeout=10000)
    await owner.fill("#create-form input[name=name]", "Standup")
    await owner.click("#create-form button")
    link = owner.locator("#created-link")
    await link.wait_for(state="visible", timeout=10000)
    url = await link.text_content()
    assert url is not None and "/r/" in url
    await owner.fill("#join-form input[name=room]", url)
    await owner.click("#join-form button")
    await owner.wait_for_url("**/r/*", timeout=10000)
    await owner.fill("#pj-name", "Olivia")  # signed in: the page asks for a token as this user
    await owner.click("#pj-join")
    await owner.wait_for_function("window.meetbox && window.meetbox.self", timeout=15000)
    assert await owner.evaluate("window.meetbox.self.is_host") is True

    guest = await (await browser.new_context()).new_page()
    await guest.goto(url)  # a bare link: the pre-join screen asks for a name
    assert await guest.locator("#pj-name").get_attribute("readonly") is None
    await guest.click("#pj-join")  # no name: the form does not submit
    assert await guest.evaluate("document.querySelector('#pj-name').validity.valueMissing")
    assert await guest.evaluate("window.meetbox.self") is None
    await guest.fill("#pj-name", "Gus")
    await guest.click("#pj-join")
    await guest.wait_for_function("window.meetbox && window.meetbox.self", timeout=15000)
    assert await guest.evaluate("window.meetbox.self.is_host") is False
    assert await guest.evaluate("window.meetbox.self.name") == "Gus"
    await sees_video_of(guest, await owner.evaluate("window.meetbox.self.identity"))


async def test_a_dropped_connection_reconnects_and_media_flows_again(
    meetbox_server: EmbeddedServer, browser: Any
) -> None:
    ann = await open_page(meetbox_server, browser, "drop", "ann")
    ben = await open_page(meetbox_server, browser, "drop", "ben")
    await sees_video_of(ben, "ann")
    first_sid = await ann.evaluate("window.meetbox.self.sid")
    # the transport drops under the page (as when a laptop changes network)
    await ann.evaluate("window.meetbox.socket.io.engine.close()")
    await ann.wait_for_function(
        f"window.meetbox.self && window.meetbox.self.sid !== '{first_sid}'", timeout=20000
    )
    try:
        await ann.wait_for_function(
            "document.getElementById('status').textContent.startsWith('in room as')",
            timeout=10000,
        )
    except Exception as exc:
        raise AssertionError(await ann.locator("#status").text_content()) from exc
    await sees_video_of(ann, "ben")
    await ben.wait_for_function(
        f"(() => {{ const t = document.querySelector('.tile[data-identity=\"ann\"]');"
        f" return t && t.dataset.participant !== '{first_sid}'; }})()",
        timeout=20000,
    )
    await sees_video_of(ben, "ann")


async def test_noise_suppression_changes_the_audio_track_and_tells_the_room(
    meetbox_server: EmbeddedServer, browser: Any
) -> None:
    ann = await open_page(meetbox_server, browser, "ns", "ann")
    ben = await open_page(meetbox_server, browser, "ns", "ben")
    await sees_video_of(ben, "ann")
    await ann.wait_for_function("window.meetbox.mine.has('audio')", timeout=10000)
    got_switch = asyncio.ensure_future(
        ben.evaluate(
            "new Promise((resolve) => window.meetbox.socket.once('device-switch', resolve))"
        )
    )
    await ann.click("#noise")
    await ann.wait_for_function(
        "document.getElementById('noise').getAttribute('aria-pressed') === 'false'", timeout=10000
    )
    settings = await ann.evaluate("window.meetbox.mine.get('audio').track.getSettings()")
    assert settings.get("noiseSuppression") is False
    assert settings.get("echoCancellation") is False
    message = await got_switch
    assert message["id"] == "ann" and message["kind"] == "audioinput"
    # the replaced track keeps reaching the others
    count = await ben.evaluate("window.meetbox.audioPacketsFrom('ann')")
    await ben.wait_for_function(
        f"window.meetbox.audioPacketsFrom('ann').then((n) => n > {count + 20})", timeout=10000
    )
