"""Real ``meetbox serve --workers N`` processes for the cluster tests (and a real
``redis-server`` for the nodes that share one): started on free loopback ports, read
through their public URL, killed or stopped as a test needs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp

from meetbox.auth.keys import load_or_create_keys
from meetbox.auth.tokens import VideoGrant, mint_token
from meetbox.client import Client
from meetbox.cluster.status import ROOMS_PATH, SECRET_HEADER, cluster_secret
from meetbox.config import Settings

LISTENING = re.compile(r"listening on (http://\S+?):? ")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Node:
    """One ``meetbox serve`` process (a gateway and its workers)."""

    def __init__(
        self, data_dir: Path, name: str, workers: int = 2, redis: str = "", **env: str
    ) -> None:
        self.data_dir = data_dir
        self.name = name
        self.workers = workers
        self.redis = redis
        self.env = env
        self.url = ""
        self.log = data_dir / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self, timeout: float = 90.0) -> Node:
        command = [sys.executable, "-m", "meetbox", "serve", "--workers", str(self.workers),
                   "--port", "0", "--data-dir", str(self.data_dir)]  # fmt: skip
        if self.redis:
            command += ["--redis", self.redis]
        env = {
            **os.environ,
            "MEETBOX_CLUSTER_NODE": self.name,
            "MEETBOX_RTC_ICE_ADDRESSES": "127.0.0.1",
            **self.env,
        }
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *command, stdout=asyncio.subprocess.PIPE, stderr=log, env=env,
                start_new_session=True,
            )  # fmt: skip
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = (await self.process.stdout.readline()).decode()
                if not line:
                    raise RuntimeError(f"node {self.name} exited:\n{self.log.read_text()[-3000:]}")
                match = LISTENING.search(line)
                if match:
                    self.url = match.group(1)
                    break
        self._session = aiohttp.ClientSession()
        return self

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None
        return self._session

    @property
    def keys(self) -> Any:
        return load_or_create_keys(self.data_dir, Settings().keys)

    def token(self, room: str, identity: str, *, name: str = "", **grant: Any) -> str:
        keys = self.keys
        video = VideoGrant(**{"room": room, "room_join": True, **grant})
        return mint_token(keys.api_key, keys.api_secret, identity, video, name=name)

    def client(self, room: str, identity: str, **options: Any) -> Client:
        grant = options.pop("grant", {})
        return Client(self.url, self.token(room, identity, **grant), **options)

    async def owner(self, room: str) -> dict[str, Any] | None:
        """Which worker holds ``room``, as the gateway says."""
        secret = cluster_secret(self.keys.api_secret)
        async with self.session.get(
            self.url + ROOMS_PATH + room, headers={SECRET_HEADER: secret}
        ) as reply:
            if reply.status == 404:
                return None
            assert reply.status == 200, await reply.text()
            found: dict[str, Any] = await reply.json()
            return found

    async def metrics(self) -> str:
        async with self.session.get(self.url + "/metrics") as reply:
            assert reply.status == 200
            return await reply.text()

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    async def wait(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout)

    def tracebacks(self) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [part[:1500] for part in text.split("Traceback (most recent call last)")[1:]]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                await self.process.wait()


class RedisServer:
    """A real ``redis-server`` (Debian's package) on a free port, without persistence."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (scripts/system-deps.sh installs it)")
        self.process = await asyncio.create_subprocess_exec(
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.folder),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        import redis.asyncio as redis

        client: Any = redis.from_url(self.url)
        try:
            async with asyncio.timeout(10):
                while True:
                    with contextlib.suppress(OSError, redis.ConnectionError):
                        if await client.ping():
                            break
                    await asyncio.sleep(0.05)  # the server is starting: poll its port
        finally:
            await client.aclose()
        return self

    async def close(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()
