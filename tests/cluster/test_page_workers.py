"""The meeting page through ``serve --workers 2``'s one URL: two Chromium pages meet; the
worker holding their room is killed and the pages (Socket.IO's own reconnection) are back
in a room on the other worker, seeing each other again."""

from __future__ import annotations

import os
import signal
from typing import Any

from meetbox.cluster.status import SECRET_HEADER, cluster_secret
from tests.cluster.nodes import Node
from tests.web.conftest import browser, browser_marks, enter

pytestmark = browser_marks(180)
__all__ = ["browser"]  # the fixture, used by name

ROOM = "d4" * 12


FRESH_VIDEO = """
(identity) => {
  const video = document.querySelector(`.tile[data-identity="${identity}"] video`);
  if (!video || video.dataset.before) return null;
  return {width: video.videoWidth, frames: video.getVideoPlaybackQuality().totalVideoFrames};
}
"""


async def sees(page: Any, other: str, timeout: float = 30000) -> None:
    """``other``'s video plays: a picture, and frames advancing (in a video element made
    since the last :func:`mark_seen`)."""
    state = f"({FRESH_VIDEO})('{other}')"
    await page.wait_for_function(
        f"(() => {{ const s = {state}; return s && s.width > 0 && s.frames > 5; }})()",
        timeout=timeout,
    )
    first = await page.evaluate(FRESH_VIDEO, other)
    await page.wait_for_function(
        f"(() => {{ const s = {state}; return s && s.frames > {first['frames'] + 10}; }})()",
        timeout=15000,
    )


async def mark_seen(page: Any) -> None:
    await page.evaluate(
        "document.querySelectorAll('.tile video').forEach(v => v.dataset.before = 1)"
    )


async def test_pages_meet_through_the_gateway_and_survive_their_worker(
    box: Node, browser: Any
) -> None:
    pages = []
    for name in ("ann", "ben"):
        context = await browser.new_context(viewport={"width": 1000, "height": 700})
        page = await context.new_page()
        await enter(page, f"{box.url}/r/{ROOM}?token={box.token(ROOM, name, name=name)}")
        pages.append(page)
    ann, ben = pages
    await sees(ann, "ben")
    await sees(ben, "ann")
    owner = await box.owner(ROOM)
    assert owner is not None
    headers = {SECRET_HEADER: cluster_secret(box.keys.api_secret)}
    async with box.session.get(owner["url"] + "/_cluster/status", headers=headers) as reply:
        pid = (await reply.json())["pid"]
    await mark_seen(ann)
    await mark_seen(ben)
    os.kill(pid, signal.SIGKILL)
    # Socket.IO reconnects the pages; the room starts again on the live worker
    await sees(ann, "ben", timeout=45000)
    await sees(ben, "ann", timeout=45000)
    moved = await box.owner(ROOM)
    assert moved is not None and moved["worker"] != owner["worker"]
