"""Two headless Chromium pages (fake camera and microphone) meet through meetbox."""

from __future__ import annotations

from meetbox.server import EmbeddedServer
from tests.web.conftest import ARTIFACTS, VIDEO_STATE, browser_marks, enter

pytestmark = browser_marks(120)


async def test_two_browsers_see_each_other(meetbox_server: EmbeddedServer, browser: object) -> None:
    pages = []
    for name in ("ann", "ben"):
        context = await browser.new_context(viewport={"width": 1000, "height": 700})  # type: ignore[attr-defined]
        page = await context.new_page()
        token = meetbox_server.token("web", name, name=name)
        await enter(page, f"{meetbox_server.url}/r/web?token={token}")
        pages.append(page)
    ann, ben = pages
    for page, other in ((ann, "ben"), (ben, "ann")):
        await page.wait_for_function(
            f"(() => {{ const s = ({VIDEO_STATE})('{other}');"
            " return s && s.width > 0 && s.frames > 5; })()",
            timeout=30000,
        )
        first = await page.evaluate(VIDEO_STATE, other)
        await page.wait_for_function(
            f"(() => ({VIDEO_STATE})('{other}').frames > {first['frames'] + 10})()", timeout=15000
        )
    ARTIFACTS.mkdir(exist_ok=True)
    await ann.screenshot(path=str(ARTIFACTS / "room-two-browsers.png"))


async def test_page_shows_why_a_bad_token_cannot_join(
    meetbox_server: EmbeddedServer, browser: object
) -> None:
    context = await browser.new_context()  # type: ignore[attr-defined]
    page = await context.new_page()
    token = meetbox_server.token("other-room", "ann")
    await page.goto(f"{meetbox_server.url}/r/web?token={token}")
    warning = page.locator("#pj-message", has_text="for room 'other-room', not 'web'")
    await warning.wait_for(timeout=10000)  # the page warns before joining; the server decides
    await page.click("#pj-join")
    status = page.locator("#status.error")
    await status.wait_for(timeout=15000)
    assert "for room 'other-room', not 'web'" in (await status.text_content() or "")


async def test_the_api_docs_page_renders_every_operation(
    meetbox_server: EmbeddedServer, browser: object
) -> None:
    context = await browser.new_context()  # type: ignore[attr-defined]
    page = await context.new_page()
    await page.goto(f"{meetbox_server.url}/docs")
    await page.wait_for_function(
        "document.querySelectorAll('details').length === 34", timeout=15000
    )
    paths = await page.locator("summary .path").all_text_contents()
    assert "/auth/register" in paths and "/session-storage/sessions" in paths
    await page.locator("details", has_text="/auth/register").first.click()
    body = await page.locator("details[open] pre").first.text_content()
    assert body is not None and '"password"' in body
