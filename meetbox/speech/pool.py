"""Speech worker processes as the event loop sees them: streams opened on the least busy
worker, audio batched into few small messages, results handed back on the loop.

A worker that dies is started again with backoff and its streams are opened on it again;
everyone with a stream on it is told it failed and, later, that it is back. Workers start
on first use and each loads its model once, whatever the number of rooms.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import queue
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from meetbox.speech.engines import EngineConfig
from meetbox.speech.stream import StreamOptions
from meetbox.speech.worker import serve

logger = logging.getLogger(__name__)

BATCH = 5  # Opus packets (100 ms) per message to a worker
FLUSH_AFTER = 0.1  # seconds a partial batch waits
RESTART_FIRST = 0.5
RESTART_MAX = 30.0

# a stream's listener: (kind, message tuple) on the event loop
Listener = Callable[[str, tuple[Any, ...]], None]


@dataclass
class _Worker:
    index: int
    process: Any
    inbox: Any
    outbox: Any
    streams: set[str] = field(default_factory=set)
    ready: bool = False
    stopping: bool = False
    reader: threading.Thread | None = None


class SpeechStreamHandle:
    """One stream on a worker: ``push`` audio, ``close`` when it ends (what was being
    said still comes back as a final, then ``closed``)."""

    def __init__(self, pool: SpeechPool, stream_id: str, options: StreamOptions) -> None:
        self.pool = pool
        self.stream_id = stream_id
        self.options = options
        self._batch: list[tuple[bytes, float]] = []
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False

    def push(self, data: bytes, arrival: float | None = None) -> None:
        if self.closed:
            return
        self._batch.append((data, time.time() if arrival is None else arrival))
        if len(self._batch) >= BATCH:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_AFTER, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._batch:
            batch, self._batch = self._batch, []
            self.pool._send(self.stream_id, ("data", self.stream_id, batch))

    def close(self) -> None:
        if self.closed:
            return
        self.flush()
        self.closed = True
        self.pool._close_stream(self.stream_id)


class SpeechPool:
    """Owns the speech worker processes; ``close()`` stops them."""

    def __init__(self, config: EngineConfig, workers: int = 1) -> None:
        self.config = config
        self.size = workers
        self.workers: list[_Worker | None] = [None] * workers
        self.listeners: dict[str, Listener] = {}
        self.options: dict[str, StreamOptions] = {}
        self.placement: dict[str, int] = {}
        self._restarts: dict[int, float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._context = multiprocessing.get_context("spawn")
        self.closed = False
        self.tasks: set[asyncio.Task[None]] = set()

    # -- workers ----------------------------------------------------------------------------

    def _start_worker(self, index: int) -> _Worker:
        inbox, outbox = self._context.Queue(), self._context.Queue()
        process = self._context.Process(
            target=serve, args=(self.config, inbox, outbox), daemon=True,
            name=f"meetbox-speech-{index}",
        )  # fmt: skip
        process.start()
        worker = _Worker(index, process, inbox, outbox)
        worker.reader = threading.Thread(
            target=self._read, args=(worker,), daemon=True, name=f"speech-reader-{index}"
        )
        worker.reader.start()
        self.workers[index] = worker
        return worker

    def _read(self, worker: _Worker) -> None:
        """A thread per worker: blocks on its outbox, hands each message to the loop."""
        loop = self._loop
        assert loop is not None
        while not worker.stopping:
            try:
                message = worker.outbox.get(timeout=0.25)
            except queue.Empty:
                if not worker.process.is_alive():
                    if not worker.stopping:
                        with contextlib.suppress(RuntimeError):
                            loop.call_soon_threadsafe(self._died, worker)
                    return
                continue
            except (EOFError, OSError):
                return
            with contextlib.suppress(RuntimeError):  # the loop closed under us
                loop.call_soon_threadsafe(self._deliver, worker, message)

    def _deliver(self, worker: _Worker, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "ready":
            worker.ready = True
            logger.info("speech worker %d ready (pid %s)", worker.index, message[1]["pid"])
            return
        if kind in ("engine-error", "engine-ok"):
            if kind == "engine-error":
                logger.warning("speech engine: %s (retrying in %.0f s)", message[1], message[2])
            for stream_id in list(worker.streams):
                self._tell(stream_id, kind, message)
            return
        stream_id = message[1]
        self._tell(stream_id, kind, message)
        if kind == "closed":
            worker.streams.discard(stream_id)
            self.listeners.pop(stream_id, None)
            self.options.pop(stream_id, None)
            self.placement.pop(stream_id, None)

    def _tell(self, stream_id: str, kind: str, message: tuple[Any, ...]) -> None:
        listener = self.listeners.get(stream_id)
        if listener is None:
            return
        try:
            listener(kind, message)
        except Exception:
            logger.exception("speech listener of stream %s failed", stream_id)

    def _died(self, worker: _Worker) -> None:
        if self.closed or self.workers[worker.index] is not worker:
            return
        code = worker.process.exitcode
        logger.warning("speech worker %d died (exit %s): starting it again", worker.index, code)
        delay = self._restarts.get(worker.index, RESTART_FIRST / 2) * 2
        delay = min(delay, RESTART_MAX)
        self._restarts[worker.index] = delay
        message = ("engine-error", f"the speech worker stopped (exit {code}): restarting", delay)
        for stream_id in list(worker.streams):
            self._tell(stream_id, "engine-error", message)
        self.workers[worker.index] = None
        task = asyncio.get_running_loop().create_task(self._restart(worker, delay))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _restart(self, old: _Worker, delay: float) -> None:
        await asyncio.sleep(delay)  # backoff before starting a process again
        if self.closed:
            return
        worker = self._start_worker(old.index)
        for stream_id in old.streams:
            if stream_id in self.options:
                worker.streams.add(stream_id)
                worker.inbox.put(("open", stream_id, self.options[stream_id]))
                self._tell(stream_id, "engine-ok", ("engine-ok",))

    # -- streams ----------------------------------------------------------------------------

    def open(self, options: StreamOptions, listener: Listener) -> SpeechStreamHandle:
        if self.closed:
            raise RuntimeError("the speech pool is closed")
        self._loop = asyncio.get_running_loop()
        index = min(
            range(self.size),
            key=lambda i: len(w.streams) if (w := self.workers[i]) is not None else 0,
        )
        worker = self.workers[index] or self._start_worker(index)
        stream_id = secrets.token_hex(6)
        self.listeners[stream_id] = listener
        self.options[stream_id] = options
        self.placement[stream_id] = index
        worker.streams.add(stream_id)
        worker.inbox.put(("open", stream_id, options))
        return SpeechStreamHandle(self, stream_id, options)

    def _send(self, stream_id: str, message: tuple[Any, ...]) -> None:
        index = self.placement.get(stream_id)
        worker = self.workers[index] if index is not None else None
        if worker is not None and worker.process.is_alive():
            worker.inbox.put(message)

    def _close_stream(self, stream_id: str) -> None:
        index = self.placement.get(stream_id)
        worker = self.workers[index] if index is not None else None
        if worker is None:
            self.listeners.pop(stream_id, None)
            self.options.pop(stream_id, None)
            self.placement.pop(stream_id, None)
            return
        worker.inbox.put(("close", stream_id))

    def pids(self) -> list[int]:
        return [w.process.pid for w in self.workers if w is not None and w.process.pid]

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Until every started worker has its model loaded (for benchmarks and tests)."""
        deadline = time.monotonic() + timeout
        while not all(w.ready for w in self.workers if w is not None):
            if time.monotonic() > deadline:
                raise TimeoutError("the speech workers did not get ready in time")
            await asyncio.sleep(0.05)  # polls a flag set by the reader thread

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for task in list(self.tasks):
            task.cancel()
        workers = [w for w in self.workers if w is not None]
        for worker in workers:
            worker.stopping = True
            with contextlib.suppress(Exception):
                worker.inbox.put(("stop",))

        def stop(worker: _Worker) -> None:
            worker.process.join(5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5)
            if worker.reader is not None:
                worker.reader.join(2)
            for q in (worker.inbox, worker.outbox):
                q.close()
                q.cancel_join_thread()

        await asyncio.gather(*(asyncio.to_thread(stop, w) for w in workers))
        self.workers = [None] * self.size
        self.listeners.clear()
