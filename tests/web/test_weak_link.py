"""A subscriber on a bad link degrades alone: one viewer's Chromium runs in a network
namespace the test makes, behind a veth pair whose server side ``tc netem`` impairs (loss
and a rate limit, Debian's iproute2); another viewer on loopback keeps the top layer while
the impaired one drops to a lower layer without freezing, and both are back on top once
the impairment ends. Where the kernel lacks netem, a token bucket filter's rate limit
(and the drops it makes) is the impairment."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from meetbox.server import EmbeddedServer
from tests.web.conftest import ARGS, CHROMIUM, browser_marks
from tests.web.test_simulcast_page import ENCODINGS, picture, wait_picture

pytestmark = [
    *browser_marks(300),
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("tc") is None,
        reason="needs root and iproute2 (tc, ip netns) to make an impaired link",
    ),
]

SERVER_SIDE = "10.199.7.1"
VIEWER_SIDE = "10.199.7.2"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class Link:
    """A namespace with one veth to the test's namespace; the server side's egress (what
    the server sends the viewer) can be impaired."""

    def __init__(self) -> None:
        tag = f"{os.getpid() % 100000}"
        self.namespace = f"mbweak{tag}"
        self.outer = f"mbw{tag}a"
        inner = f"mbw{tag}b"
        ip("netns", "add", self.namespace)
        ip("link", "add", self.outer, "type", "veth", "peer", "name", inner)
        ip("link", "set", inner, "netns", self.namespace)
        ip("addr", "add", f"{SERVER_SIDE}/30", "dev", self.outer)
        ip("link", "set", self.outer, "up")
        inside = ("netns", "exec", self.namespace, "ip")
        ip(*inside, "addr", "add", f"{VIEWER_SIDE}/30", "dev", inner)
        ip(*inside, "link", "set", inner, "up")
        ip(*inside, "link", "set", "lo", "up")

    def impair(self, rate: str, loss: str) -> str:
        """``tc netem`` loss and a rate limit on what the server sends the viewer; where the
        kernel has no netem (this machine's has not), a token bucket (``tbf``) whose short
        queue drops what is over the rate. Returns the qdisc used."""
        netem = ["netem", "loss", loss, "rate", rate, "limit", "40"]
        tbf = ["tbf", "rate", rate, "burst", "16kb", "latency", "60ms"]
        for qdisc in (netem, tbf):
            done = subprocess.run(
                ["tc", "qdisc", "replace", "dev", self.outer, "root", *qdisc],
                capture_output=True,
                timeout=10,
            )
            if done.returncode == 0:
                return qdisc[0]
        raise RuntimeError(f"tc could not impair the link: {done.stderr.decode()[:200]}")

    def heal(self) -> None:
        subprocess.run(
            ["tc", "qdisc", "del", "dev", self.outer, "root"], capture_output=True, timeout=10
        )

    def close(self) -> None:
        subprocess.run(["ip", "link", "del", self.outer], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True, timeout=10)


@pytest.fixture
def link() -> Iterator[Link]:
    made = Link()
    try:
        yield made
    finally:
        made.close()


@pytest_asyncio.fixture
async def browsers(link: Link, tmp_path: Path) -> AsyncIterator[tuple[Any, Any]]:
    """A Chromium here, and a way to start one inside the namespace (through ``ip netns
    exec``) that treats the server's address there as secure (for its camera)."""
    from playwright.async_api import async_playwright

    wrapper = tmp_path / "chromium-in-namespace"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {link.namespace} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    async with async_playwright() as pw:
        here = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        started: list[Any] = []

        async def there(origin: str) -> Any:
            args = [*ARGS, f"--unsafely-treat-insecure-origin-as-secure={origin}"]
            browser = await pw.chromium.launch(
                executable_path=str(wrapper), headless=True, args=args
            )
            started.append(browser)
            return browser

        try:
            yield here, there
        finally:
            for browser in started:
                await browser.close()
            await here.close()


async def join(browser: Any, base: str, server: EmbeddedServer, name: str, camera: bool) -> Any:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(f"{base}/r/weak?token={server.token('weak', name)}")
    await page.locator("#pj-cam-on").wait_for(timeout=15000)
    if not camera:
        await page.uncheck("#pj-cam-on")
    await page.wait_for_function(
        "document.querySelector('#pj-camera').options.length > 0", timeout=10000
    )
    await page.click("#pj-join")
    await page.wait_for_function("window.meetbox && window.meetbox.selfSid", timeout=20000)
    return page


async def frames_advance(page: Any, seconds: float) -> int:
    """Frames decoded over ``seconds``: a frozen picture decodes none."""
    before = await picture(page)
    await asyncio.sleep(seconds)
    after = await picture(page)
    assert before is not None and after is not None
    return after["frames"] - before["frames"]


async def test_a_viewer_on_a_bad_link_degrades_alone(link: Link, browsers: tuple[Any, Any]) -> None:
    here, there = browsers
    server = EmbeddedServer(host="0.0.0.0", rtc={"ice_addresses": ("127.0.0.1", SERVER_SIDE)})
    async with server:
        port = server._running().port
        pub = await join(here, f"http://127.0.0.1:{port}", server, "pub", camera=True)
        good = await join(here, f"http://127.0.0.1:{port}", server, "good", camera=False)
        origin = f"http://{SERVER_SIDE}:{port}"
        weak = await join(await there(origin), origin, server, "weak", camera=False)
        await pub.wait_for_function(f"({ENCODINGS})()?.length === 3", timeout=20000)
        for page in (good, weak):  # both show the publisher large
            await page.locator('.tile[data-identity="pub"]').wait_for(timeout=20000)
            await page.dblclick('.tile[data-identity="pub"]')
        await wait_picture(good, "p.width >= 1280", 60)
        await wait_picture(weak, "p.width >= 1280", 60)

        used = link.impair(rate="400kbit", loss="8%")
        assert used in ("netem", "tbf")
        await wait_picture(weak, "p.width < 1280", 30)
        # a frozen picture decodes nothing; two browsers share this machine's two cores
        assert await frames_advance(weak, 3) >= 10, "the weak viewer's picture froze"
        assert (await picture(good) or {}).get("width", 0) >= 1280, "the good viewer lost its layer"
        assert await frames_advance(good, 2) >= 10
        # each page's badge says how the publisher's video arrives there
        badge = '.tile[data-identity="pub"]'
        await good.wait_for_function(
            f"document.querySelector('{badge}')?.dataset.quality === 'good'", timeout=10000
        )
        assert await weak.eval_on_selector(badge, "el => el.dataset.quality") in (
            "good",
            "fair",
            "poor",
        )

        link.heal()
        await wait_picture(weak, "p.width >= 1280", 60)
        assert (await picture(good) or {}).get("width", 0) >= 1280
        for page in (pub, good, weak):
            await page.context.close()
