"""Headless Chromium for the browser tests (Debian's package, driven by Playwright)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# launched through a wrapper that keeps it off real-time scheduling (see the script)
LAUNCHER = Path(__file__).resolve().with_name("chromium-no-rt")
CLOSE_TIMEOUT = 30.0
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--auto-select-desktop-capture-source=Entire screen",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
]


if not os.path.exists(CHROMIUM) and os.environ.get("MEETBOX_SKIP_BROWSER") != "1":
    raise RuntimeError(
        "Chromium is missing: run scripts/system-deps.sh (or set MEETBOX_SKIP_BROWSER=1)"
    )


@asynccontextmanager
async def chromium(*extra: str) -> AsyncIterator[object]:
    """Headless Chromium with the tests' flags, and ``extra`` ones."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        instance = await pw.chromium.launch(
            executable_path=str(LAUNCHER),
            headless=True,
            args=[*ARGS, *extra],
            env={**os.environ, "CHROMIUM_BINARY": CHROMIUM},
        )
        try:
            yield instance
        finally:
            try:
                await asyncio.wait_for(instance.close(), CLOSE_TIMEOUT)
            except TimeoutError:  # a browser that does not close must not hang the run
                kill_browsers()


def kill_browsers() -> None:
    """SIGKILL every Chromium this test process started (its descendants)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    pending, found = [os.getpid()], []
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    for pid in found:
        try:
            if "chrom" in Path(f"/proc/{pid}/comm").read_text():
                # off real-time scheduling first: a spinning SCHED_FIFO one never died
                os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))
                os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[object]:
    async with chromium() as instance:
        yield instance


VIDEO_STATE = """
(identity) => {
  const tile = document.querySelector(`.tile[data-identity="${identity}"] video`);
  if (!tile) return null;
  return {width: tile.videoWidth, frames: tile.getVideoPlaybackQuality().totalVideoFrames};
}
"""


async def enter(page: Any, url: str) -> None:
    """Open a meeting link and press join on its pre-join screen."""
    await page.goto(url)
    join = page.locator("#pj-join")
    await join.wait_for(timeout=10000)
    # the devices are listed once the preview has them
    await page.wait_for_function(
        "document.querySelector('#pj-camera').options.length > 0", timeout=10000
    )
    await join.click()


def browser_marks(timeout: float) -> list[pytest.MarkDecorator]:
    """A browser test module's marks: the ``browser`` marker, its timeout, and the skip
    that ``MEETBOX_SKIP_BROWSER=1`` asks for on a machine without Chromium."""
    return [
        pytest.mark.browser,
        pytest.mark.timeout(timeout),
        pytest.mark.skipif(
            os.environ.get("MEETBOX_SKIP_BROWSER") == "1", reason="MEETBOX_SKIP_BROWSER=1 was set"
        ),
    ]
