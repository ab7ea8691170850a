"""``meetbox serve --workers N``: starts N worker processes, reads their load twice a
second into the placement (in memory, or Redis with ``--redis``), serves the public URL
through the gateway, starts a worker again when one dies, and drains them all on SIGTERM.
Owns the workers, the gateway and the placement; ``close()`` ends them in that order."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import sys
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from meetbox.auth.keys import load_or_create_keys
from meetbox.auth.tokens import TokenVerifier
from meetbox.cluster.gateway import Gateway
from meetbox.cluster.placement import MemoryMaps, Placement, RedisMaps
from meetbox.cluster.status import (
    READY,
    SECRET_HEADER,
    STATUS_PATH,
    WorkerStatus,
    cluster_secret,
)
from meetbox.config import Settings
from meetbox.errors import MeetboxError

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.5  # seconds between two reads of a worker's load
START_TIMEOUT = 120.0  # a worker loads the speech engine's code and opens the store
RESTART_DELAY = (0.5, 10.0)  # the first and the longest pause before a dead worker restarts


def _die_with_parent() -> None:
    """In the child: the kernel kills it when the supervisor dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def worker_count(setting: int) -> int:
    return setting if setting > 0 else max(1, len(os.sched_getaffinity(0)))


def port_ranges(low: int, high: int, count: int) -> list[tuple[int, int]]:
    """Each worker's own UDP ports out of ``rtc.udp_port_min..max`` (none: ephemeral)."""
    if not low:
        return [(0, 0)] * count
    span = (high - low + 1) // count
    if span < 1:
        raise ValueError(f"rtc.udp_port_min..max holds {high - low + 1} ports for {count} workers")
    return [(low + i * span, low + (i + 1) * span - 1) for i in range(count)]


def node_name(settings: Settings) -> str:
    if settings.cluster.node:
        return settings.cluster.node
    host = "".join(c if c.isalnum() or c in "-." else "-" for c in socket.gethostname())[:40]
    return f"{host or 'node'}-{settings.server.port or os.getpid()}"


@dataclass
class WorkerProcess:
    index: int
    id: str
    udp: tuple[int, int]
    process: asyncio.subprocess.Process | None = None
    url: str = ""
    status: WorkerStatus | None = None
    deaths: int = 0
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)


class Supervisor:
    def __init__(self, settings: Settings, worker_args: list[str]) -> None:
        self.settings = settings
        self.worker_args = worker_args  # --config and the like, as serve was given them
        self.node = node_name(settings)
        keys = load_or_create_keys(settings.server.data_dir, settings.keys)
        self.keys = keys
        self.secret = cluster_secret(keys.api_secret)
        maps = RedisMaps(settings.cluster.redis_url) if settings.cluster.redis_url else MemoryMaps()
        self.placement = Placement(maps)
        count = worker_count(settings.cluster.workers)
        ranges = port_ranges(settings.rtc.udp_port_min, settings.rtc.udp_port_max, count)
        self.workers = [WorkerProcess(i, f"{self.node}/{i}", ranges[i]) for i in range(count)]
        self.gateway = Gateway(
            self.placement, TokenVerifier(keys.as_map()), self.secret, self.local, self.node
        )
        self.port = settings.server.port
        self.stopping = False
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._poller: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = self.settings.server.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def local(self) -> list[WorkerStatus]:
        return [w.status for w in self.workers if w.status is not None and w.process is not None
                and w.process.returncode is None]  # fmt: skip

    async def prepare(self) -> None:
        """What every worker would otherwise make at once: the store's tables, the
        transcript secret (the API keys are made in ``__init__``)."""
        from meetbox.store import open_store
        from meetbox.web.services import transcript_secret

        transcript_secret(self.settings)
        store = open_store(self.settings.store, self.settings.server.data_dir)
        try:
            await store.open()
        except MeetboxError as exc:  # the workers wait for it as a single server does
            logger.warning("store (%s) not ready at start: %s", store.backend, exc.message)
        finally:
            await store.close()

    async def start(self) -> None:
        await self.prepare()
        self._runner = web.AppRunner(self.gateway.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.server.host, self.settings.server.port)
        await site.start()
        if self._runner.addresses:
            self.port = int(self._runner.addresses[0][1])
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))
        await asyncio.gather(*(self._spawn(w) for w in self.workers))
        await self._poll_once()
        self._poller = asyncio.get_running_loop().create_task(self._poll(), name="worker poll")
        logger.info("meetbox node %s: %d workers behind %s", self.node, len(self.workers), self.url)

    # -- the workers --------------------------------------------------------------------------

    def _command(self, worker: WorkerProcess) -> list[str]:
        overrides: dict[str, Any] = {"server": {"port": 0}, "cluster": {"workers": 1}}
        if worker.udp[0]:
            overrides["rtc"] = {"udp_port_min": worker.udp[0], "udp_port_max": worker.udp[1]}
        return [
            sys.executable, "-m", "meetbox", "worker", *self.worker_args,
            "--id", worker.id, "--node", self.node,
            "--gateway", f"http://127.0.0.1:{self.port}" if self.settings.server.host in
            ("0.0.0.0", "::", "127.0.0.1", "localhost") else self.url,
            "--overrides", json.dumps(overrides),
        ]  # fmt: skip

    async def _spawn(self, worker: WorkerProcess) -> None:
        process = await asyncio.create_subprocess_exec(
            *self._command(worker),
            stdout=asyncio.subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
        worker.process = process
        assert process.stdout is not None
        try:
            async with asyncio.timeout(START_TIMEOUT):
                while True:
                    line = (await process.stdout.readline()).decode(errors="replace").strip()
                    if not line:
                        raise RuntimeError(f"worker {worker.id} exited before it listened")
                    if line.startswith(READY + " "):
                        worker.url = line.split(" ", 1)[1]
                        break
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise
        loop = asyncio.get_running_loop()
        worker.tasks = [
            loop.create_task(self._drain_output(process), name=f"{worker.id} output"),
            loop.create_task(self._watch(worker, process), name=f"{worker.id} watch"),
        ]
        logger.info("worker %s (pid %d) listens on %s", worker.id, process.pid, worker.url)

    @staticmethod
    async def _drain_output(process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while await process.stdout.readline():
            pass

    async def _watch(self, worker: WorkerProcess, process: asyncio.subprocess.Process) -> None:
        code = await process.wait()
        worker.status = None
        await self.placement.report([], gone=[worker.id])
        if self.stopping or self.gateway.draining:
            return
        worker.deaths += 1
        pause = min(RESTART_DELAY[1], RESTART_DELAY[0] * 2 ** (worker.deaths - 1))
        logger.warning("worker %s exited (%s): its rooms are gone; restarting in %.1f s",
                       worker.id, code, pause)  # fmt: skip
        await asyncio.sleep(pause)  # back-off before a restart, not a wait on a condition
        if not (self.stopping or self.gateway.draining):
            try:
                await self._spawn(worker)
            except (RuntimeError, OSError, TimeoutError) as exc:
                logger.error("worker %s did not start again: %s", worker.id, exc)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_INTERVAL)  # the heartbeat's period
            try:
                await self._poll_once()
            except Exception:
                logger.exception("reading the workers' load failed")

    async def _poll_once(self) -> None:
        assert self._session is not None
        session = self._session

        async def read(worker: WorkerProcess) -> None:
            if worker.process is None or worker.process.returncode is not None or not worker.url:
                return
            try:
                async with session.get(worker.url + STATUS_PATH,
                                       headers={SECRET_HEADER: self.secret}) as reply:  # fmt: skip
                    worker.status = WorkerStatus.from_json(await reply.read())
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError, TypeError):
                logger.debug("worker %s did not answer its status", worker.id)

        await asyncio.gather(*(read(w) for w in self.workers))
        await self.placement.report(self.local())

    # -- the end --------------------------------------------------------------------------------

    async def drain(self) -> None:
        """SIGTERM: this node takes no new rooms; each worker ends when its rooms have."""
        self.gateway.draining = True
        for worker in self.workers:
            if worker.process is not None and worker.process.returncode is None:
                worker.process.send_signal(signal.SIGTERM)
        timeout = self.settings.cluster.drain_timeout + 30
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                for worker in self.workers:
                    if worker.process is not None:
                        await worker.process.wait()

    async def close(self) -> None:
        self.stopping = True
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        for worker in self.workers:
            if worker.process is not None and worker.process.returncode is None:
                worker.process.send_signal(signal.SIGINT)
        for worker in self.workers:
            if worker.process is None:
                continue
            try:
                await asyncio.wait_for(worker.process.wait(), 20)
            except TimeoutError:
                worker.process.kill()
                await worker.process.wait()
            for task in worker.tasks:
                task.cancel()
        await self.placement.report([], gone=[w.id for w in self.workers])
        if self._runner is not None:
            await self._runner.cleanup()
        await self.gateway.close()
        if self._session is not None:
            await self._session.close()
        await self.placement.close()
