"""One load worker process: its share of publishers and subscribers, reporting each second."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing.queues
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from meetbox import runtime
from meetbox.client import Client
from meetbox.loadtest.clip import Clip
from meetbox.loadtest.cliptrack import publish_clip
from meetbox.loadtest.janus import JanusPublisher, JanusSubscriber
from meetbox.loadtest.meeting import Media, MeetingParticipant, View
from meetbox.media.rtpcount import RtpCounter, Totals

logger = logging.getLogger(__name__)

JOIN_CONCURRENCY = 8
REPORT_INTERVAL = 0.5
# Joins wait while this worker's event loop runs later than this: a saturated worker
# answers the server's ICE consent checks too late, and the server drops its
# subscribers (aioice gives up after about 30 s of unanswered checks).
MAX_JOIN_LAG = 0.1
LAG_TICK = 0.05
PUBLISH_WAIT = 60.0  # at most, for the publishers before the subscribers join


@dataclass(frozen=True)
class WorkerPlan:
    index: int
    url: str
    room: str
    publisher_tokens: tuple[str, ...]
    subscriber_tokens: tuple[str, ...]
    video: Clip | None
    audio: Clip | None
    decrypt: bool = False
    # a meeting: (token, talks) of participants that publish and receive everyone else;
    # their video as simulcast layers (rid, clip) when given, else ``video``
    participants: tuple[tuple[str, bool], ...] = ()
    layers: tuple[tuple[str, Clip], ...] = ()
    view: View = field(default_factory=View)
    backend: str = "meetbox"  # or "janus": see meetbox.loadtest.janus


@dataclass
class SubscriberReport:
    join_ms: float | None
    totals: Totals
    connected: bool = True
    videos: int = 0  # the video streams it receives


class LoopLag:
    """Whether this process' event loop runs late: a timer's oversleep, measured each
    tick; ``calm`` is set while it is at most ``limit``."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.calm = asyncio.Event()
        self.calm.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_TICK)  # the measuring cadence
            if loop.time() - before - LAG_TICK <= self.limit:
                self.calm.set()
            else:
                self.calm.clear()


@dataclass
class WorkerReport:
    worker: int
    at: float  # time.time()
    subscribers: list[SubscriberReport] = field(default_factory=list)
    publishers: int = 0
    errors: list[str] = field(default_factory=list)
    done: bool = False


def run(
    plan: WorkerPlan, reports: multiprocessing.queues.Queue[Any], stop: Any, published: Any
) -> None:
    """The worker process' entry point: runs until the ``stop`` event is set. A worker with
    publishers sets ``published`` once they publish (or failed to); the subscribers join
    after it, so that their join time is to a live stream, not to a publisher starting."""
    logging.basicConfig(level=logging.ERROR)
    # hundreds of peer connections in one process: full collections would stall it
    # for a fifth of a second at a time, as they would the server
    runtime.tune_garbage_collector()
    asyncio.run(_run(plan, reports, stop, published))


class Joining(Protocol):
    """A load client of either back-end: meetbox's :class:`Client` or Janus's."""

    @property
    def healthy(self) -> bool: ...

    async def connect(self, timeout: float = 10.0) -> None: ...

    async def close(self) -> None: ...


async def _publish(plan: WorkerPlan, token: str) -> Joining:
    if plan.backend == "janus":
        clips = [clip for clip in (plan.video, plan.audio) if clip is not None]
        publisher = JanusPublisher(plan.url, plan.room, clips)
        await publisher.connect(timeout=30)
        return publisher
    client = Client(plan.url, token, room=plan.room)
    await client.connect(timeout=30)
    for clip in (plan.video, plan.audio):
        if clip is not None:
            await publish_clip(client, clip)
    return client


async def _run(
    plan: WorkerPlan, reports: multiprocessing.queues.Queue[Any], stop: Any, published: Any
) -> None:
    clients: list[Joining] = []
    subscribers: list[tuple[float, RtpCounter, Joining]] = []
    participants: list[MeetingParticipant] = []
    errors: list[str] = []
    gate = asyncio.Semaphore(JOIN_CONCURRENCY)
    lag = LoopLag(MAX_JOIN_LAG)
    monitor = asyncio.create_task(lag.run())

    # the publishers' worker says when they are in (another process' event: a thread waits)
    publishers_in = asyncio.ensure_future(asyncio.to_thread(published.wait, PUBLISH_WAIT))

    def counting_client(token: str) -> tuple[float, RtpCounter, Client]:
        """A client whose received RTP is counted; when it started."""
        counter = RtpCounter()
        client = Client(
            plan.url, token, room=plan.room, rtp_sink=counter, decrypt_media=plan.decrypt
        )
        clients.append(client)
        return time.monotonic(), counter, client

    def counting_subscriber(token: str) -> tuple[float, RtpCounter, Joining]:
        if plan.backend != "janus":
            return counting_client(token)
        counter = RtpCounter()
        subscriber = JanusSubscriber(plan.url, plan.room, counter)
        clients.append(subscriber)
        return time.monotonic(), counter, subscriber

    async def subscribe(token: str) -> None:
        await publishers_in
        async with gate:
            await lag.calm.wait()
            started, counter, client = counting_subscriber(token)
            try:
                await client.connect(timeout=30)
            except Exception as exc:  # reported, the run goes on
                errors.append(f"subscriber could not join: {exc}")
                return
            subscribers.append((started, counter, client))

    async def take_part(token: str, talks: bool) -> None:
        async with gate:
            await lag.calm.wait()
            started, counter, client = counting_client(token)
            participant = MeetingParticipant(client, counter, plan.view)
            participants.append(participant)
            participant.start()  # it tells its tile sizes while it joins
            try:
                await participant.join(Media(plan.audio, plan.video, plan.layers), talks)
            except Exception as exc:  # reported, the run goes on
                errors.append(f"participant could not join: {exc}")
                return
            subscribers.append((started, counter, client))

    try:
        for token in plan.publisher_tokens:
            try:
                clients.append(await _publish(plan, token))
            except Exception as exc:
                errors.append(f"publisher could not join: {exc}")
        if plan.publisher_tokens:
            published.set()
        joining = asyncio.gather(
            *(subscribe(t) for t in plan.subscriber_tokens),
            *(take_part(token, talks) for token, talks in plan.participants),
        )
        while True:
            done = stop.is_set()
            report = WorkerReport(plan.index, at=time.time(), publishers=len(plan.publisher_tokens))
            report.errors, errors[:] = list(errors), []
            for started, counter, client in subscribers:
                join = counter.first_video_at
                report.subscribers.append(
                    SubscriberReport(
                        None if join is None else (join - started) * 1000,
                        counter.totals(),
                        client.healthy,
                        counter.video_streams,
                    )
                )
            report.done = done
            reports.put(report)
            if done:
                break
            await asyncio.sleep(REPORT_INTERVAL)  # the report cadence, not a wait for a condition
        joining.cancel()
    finally:
        monitor.cancel()
        await asyncio.gather(*(p.close() for p in participants), return_exceptions=True)
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
