"""A recording survives its process being killed: the file plays up to the kill."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import sys
import time
from pathlib import Path

import pytest

from meetbox.auth.tokens import VideoGrant, mint_token
from meetbox.client import Client
from tests.recorder.helpers import inspect, publish_av

pytestmark = pytest.mark.timeout(90)


async def test_sigkill_mid_recording_leaves_a_playable_file(tmp_path: Path) -> None:
    key, secret = "crash", secrets.token_hex(24)
    env = {
        **os.environ,
        "MEETBOX_DATA_DIR": str(tmp_path),
        "MEETBOX_PORT": "0",
        "MEETBOX_KEYS_API_KEY": key,
        "MEETBOX_KEYS_API_SECRET": secret,
        "MEETBOX_RTC_ICE_ADDRESSES": "127.0.0.1",
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "meetbox", "serve",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = ""
        while not url:
            line = (await asyncio.wait_for(server.stdout.readline(), 20)).decode()
            assert line, "the server exited"
            found = re.search(r"listening on (http://\S+)", line)
            url = found.group(1) if found else ""

        def token(identity: str, host: bool) -> str:
            grant = VideoGrant(room="crash", room_join=True, room_admin=host)
            return mint_token(key, secret, identity, grant, ttl=600)

        host = Client(url, token("host", True), room="crash")
        async with host:
            await publish_av(host)
            await host.send("recording", {"recording": True})
            began = time.monotonic()
            files = list(tmp_path.rglob("host-01.webm"))
            deadline = time.monotonic() + 10
            while not files or files[0].stat().st_size < 20_000:
                assert time.monotonic() < deadline, "nothing was written"
                await asyncio.sleep(0.1)  # the file grows as clusters are flushed
                files = list(tmp_path.rglob("host-01.webm"))
            await asyncio.sleep(max(0.0, 4 - (time.monotonic() - began)))
            server.send_signal(signal.SIGKILL)
            killed_after = time.monotonic() - began
            await asyncio.wait_for(server.wait(), 10)
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
    facts = inspect(files[0])
    assert (facts.video_codec, facts.audio_codec) == ("vp8", "opus")
    # everything but the cluster being written (at most a second, plus the keyframe wait)
    assert killed_after - 2.0 < facts.duration <= killed_after + 0.1, (facts, killed_after)
    assert facts.decoded_frames >= 25 * facts.duration
