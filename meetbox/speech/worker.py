"""A speech worker process: decodes, detects voice and runs the engine for many streams.

The server's event loop only puts small messages on the worker's inbox and reads its
outbox (``speech.pool``). Finals are run before interims; an interim is skipped when the
worker is behind. An engine that fails is retried with backoff; finals wait for it (a
few per stream), and the worker says when it fails and when it is back.

Inbox: ``("open", id, StreamOptions)``, ``("data", id, [(bytes, arrival), ...])``,
``("close", id)``, ``("stop",)``. Outbox: ``("ready", info)``, ``("interim" | "final",
id, text, start, end, language, inference_seconds)``, ``("engine-error", message,
retry_in)``, ``("engine-ok",)``, ``("bad-frames", id, count)``, ``("closed", id)``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import time
from typing import Any

from meetbox.speech.engines import EngineConfig, EngineError, build_engine
from meetbox.speech.stream import SpeechStream, StreamOptions, to_float
from meetbox.speech.vad import Utterance

logger = logging.getLogger(__name__)

MAX_WAITING_FINALS = 20  # per stream, while the engine is down
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
DRAIN = 500  # inbox messages taken in one turn


class Worker:
    def __init__(self, config: EngineConfig, inbox: Any, outbox: Any) -> None:
        self.config = config
        self.inbox = inbox
        self.outbox = outbox
        self.engine = build_engine(config)
        self.streams: dict[str, SpeechStream] = {}
        self.closing: set[str] = set()
        self.reported_bad: dict[str, int] = {}
        self.down_until = 0.0
        self.backoff = BACKOFF_FIRST
        self.down = False
        self.running = True

    def handle(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "data":
            stream = self.streams.get(message[1])
            if stream is not None and message[1] not in self.closing:
                for data, arrival in message[2]:
                    stream.push(data, arrival)
        elif kind == "open":
            options: StreamOptions = message[2]
            self.streams[message[1]] = SpeechStream(message[1], options)
            self.closing.discard(message[1])
        elif kind == "close":
            stream = self.streams.get(message[1])
            if stream is not None:
                stream.flush()
                self.closing.add(message[1])
        elif kind == "stop":
            self.running = False

    def _failed(self, exc: EngineError) -> None:
        retry_in = self.backoff
        self.down_until = time.monotonic() + retry_in
        self.backoff = min(self.backoff * 2, BACKOFF_MAX)
        self.down = True
        self.outbox.put(("engine-error", str(exc), retry_in))

    def _succeeded(self) -> None:
        self.backoff = BACKOFF_FIRST
        if self.down:
            self.down = False
            self.outbox.put(("engine-ok",))

    def _run(self, stream: SpeechStream, utterance: Utterance) -> bool:
        kind = "final" if utterance.final else "interim"
        began = time.perf_counter()
        try:
            result = self.engine.transcribe(to_float(utterance.audio), stream.options.language)
        except EngineError as exc:
            self._failed(exc)
            return False
        self._succeeded()
        took = time.perf_counter() - began
        if result.text or utterance.final:
            self.outbox.put(
                (kind, stream.stream_id, result.text, utterance.start, utterance.end,
                 result.language, took)
            )  # fmt: skip
        return True

    def step(self) -> bool:
        """Runs one job if there is one; True when work may be left."""
        now = time.time()
        for stream_id, stream in list(self.streams.items()):
            stream.idle(now)
            if stream.bad_frames != self.reported_bad.get(stream_id, 0):
                self.reported_bad[stream_id] = stream.bad_frames
                self.outbox.put(("bad-frames", stream_id, stream.bad_frames))
            if len(stream.finals) > MAX_WAITING_FINALS:
                del stream.finals[: len(stream.finals) - MAX_WAITING_FINALS]
            if stream_id in self.closing and (not stream.finals or self.down):
                del self.streams[stream_id]
                self.closing.discard(stream_id)
                self.reported_bad.pop(stream_id, None)
                self.outbox.put(("closed", stream_id))
        if self.down and time.monotonic() < self.down_until:
            return False
        waiting = [s for s in self.streams.values() if s.finals]
        if waiting:
            stream = min(waiting, key=lambda s: s.finals[0].start)
            if self._run(stream, stream.finals[0]):
                stream.finals.pop(0)
            return True
        if self.down:  # nothing final to try the engine with: probe with nothing
            return False
        due = [
            (s, s.interim(now)) for s in self.streams.values() if s.stream_id not in self.closing
        ]
        ready = [(s, u) for s, u in due if u is not None]
        if ready:
            stream, utterance = min(ready, key=lambda pair: pair[1].start)
            self._run(stream, utterance)
            return True
        return False

    def serve(self) -> None:
        try:
            self.engine.prepare(self.config.language)
        except EngineError as exc:
            self._failed(exc)
        self.outbox.put(("ready", {"pid": os.getpid(), "engine": self.engine.name}))
        busy = False
        while self.running:
            try:
                self.handle(self.inbox.get(timeout=0.005 if busy else 0.05))
                for _ in range(DRAIN):
                    self.handle(self.inbox.get_nowait())
            except queue.Empty:
                pass
            busy = self.step()


def serve(config: EngineConfig, inbox: Any, outbox: Any) -> None:
    """The worker process's entry point."""
    logging.basicConfig(level=logging.WARNING)
    if config.cpus:
        with contextlib.suppress(OSError, ValueError):
            os.sched_setaffinity(0, set(config.cpus))
    try:
        Worker(config, inbox, outbox).serve()
    except KeyboardInterrupt:
        pass
