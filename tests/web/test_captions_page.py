"""Two people in meeting pages (headless Chromium): one speaks (espeak-ng speech as the fake
microphone), the other starts captions with the page's button and sees her words with her
name while she speaks; after the meeting the page shows the transcript and a summary."""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest_asyncio

from meetbox.server import EmbeddedServer
from meetbox.speech.espeak import speech
from tests.api.conftest import Rest
from tests.speech.test_captions import meeting_in_room
from tests.web.conftest import ARTIFACTS, browser_marks, chromium

pytestmark = browser_marks(150)

SAID = "please review the budget before the meeting on tuesday"


@pytest_asyncio.fixture
async def speaking_browser(tmp_path: Path) -> AsyncIterator[object]:
    """Chromium whose fake microphone says SAID, then a second of silence, over and over."""
    samples = np.concatenate([speech(SAID, 48000), np.zeros(48000, np.int16)])
    path = tmp_path / "said.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes(samples.tobytes())
    async with chromium(f"--use-file-for-fake-audio-capture={path}") as instance:
        yield instance


async def test_captions_with_names_in_the_page_then_transcript_and_summary(
    speaking_browser: object,
) -> None:
    async with EmbeddedServer() as server, aiohttp.ClientSession() as session:
        rest = Rest(server, session)
        room, _, _ = await meeting_in_room(rest, "Budget review")
        pages = {}
        for name in ("ann", "ben"):
            context = await speaking_browser.new_context(viewport={"width": 1100, "height": 760})  # type: ignore[attr-defined]
            page = await context.new_page()
            await page.goto(
                f"{server.url}/r/{room}?token={server.token(room, name, name=name.title())}"
            )
            if name == "ben":  # ben listens: his microphone stays off
                await page.locator("#pj-mic-on").wait_for(timeout=10000)
                await page.uncheck("#pj-mic-on")
            join = page.locator("#pj-join")
            await join.wait_for(timeout=10000)
            await page.wait_for_function(
                "document.querySelector('#pj-camera').options.length > 0", timeout=10000
            )
            await join.click()
            await page.wait_for_function("window.meetbox && window.meetbox.selfSid", timeout=20000)
            pages[name] = page
        ann, ben = pages["ann"], pages["ben"]
        await ben.click("#cc")  # any participant may start them
        await ben.wait_for_function(
            "document.querySelector('#cc').getAttribute('aria-pressed') === 'true'", timeout=15000
        )
        # ben sees ann's words, with her name, while she speaks
        await ben.wait_for_function(
            "[...document.querySelectorAll('#captions .caption:not(.interim)')].some(p =>"
            " p.textContent.startsWith('Ann: ') && /budget/i.test(p.textContent)"
            " && /tuesday/i.test(p.textContent))",
            timeout=60000,
        )
        await ann.wait_for_function(
            "[...document.querySelectorAll('#captions .caption')].some(p =>"
            " p.textContent.startsWith('Ann: '))",
            timeout=20000,
        )
        ARTIFACTS.mkdir(exist_ok=True)
        await ben.screenshot(path=str(ARTIFACTS / "room-captions.png"))
        # after the meeting: the transcript, then a summary
        await ben.click("#leave")
        await ben.wait_for_function(
            "[...document.querySelectorAll('#transcript-list li')].some(li =>"
            " li.textContent.startsWith('Ann: '))",
            timeout=20000,
        )
        await ben.click("#summary-button")
        await ben.wait_for_function(
            "document.querySelector('#summary').textContent.startsWith('# Budget review')",
            timeout=30000,
        )
        await ben.screenshot(path=str(ARTIFACTS / "room-transcript-summary.png"))
        for page in pages.values():  # the pages go before the server does
            await page.context.close()
