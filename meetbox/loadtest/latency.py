"""Added latency through the SFU: one publisher and one subscriber in a room of their
own, each video packet timed from leaving the publisher to arriving at the subscriber.

The SFU rewrites headers but keeps payloads, so a packet is recognised at the
subscriber by its payload. Both ends live in one process on one clock.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing.queues
import os
import time
from dataclasses import dataclass
from typing import Any

from meetbox.client import Client
from meetbox.loadtest.clip import Clip
from meetbox.loadtest.cliptrack import publish_clip
from meetbox.media.rtp import RtpHeader, is_rtcp
from meetbox.sfu import aiortc as internals

logger = logging.getLogger(__name__)

MAX_IN_FLIGHT = 20_000  # payloads remembered before the oldest are forgotten


class LatencySink:
    """Times packets: :meth:`sent` at the publisher, :meth:`add` at the subscriber."""

    def __init__(self) -> None:
        self.payload_kinds: dict[int, str] = {}
        self.samples_ms: list[float] = []
        self.recording = False
        self._sent: dict[bytes, float] = {}

    def sent(self, data: bytes) -> None:
        if is_rtcp(data):
            return
        try:
            header = RtpHeader.parse(data)
        except ValueError:
            return
        if len(self._sent) >= MAX_IN_FLIGHT:
            self._sent.clear()  # packets the SFU dropped, or sent before anyone listened
        self._sent[data[header.payload_start :]] = time.monotonic()

    def add(self, data: bytes, arrival_ms: int) -> None:
        arrived = time.monotonic()
        try:
            header = RtpHeader.parse(data)
        except ValueError:
            return
        if self.payload_kinds.get(header.payload_type) != "video":
            return
        sent = self._sent.pop(data[header.payload_start :], None)
        if sent is not None and self.recording:
            self.samples_ms.append((arrived - sent) * 1000)


@dataclass(frozen=True)
class ProbePlan:
    url: str
    room: str
    publisher_token: str
    subscriber_token: str
    clip: Clip
    cpus: tuple[int, ...] = ()
    priority: int = 0  # niceness; below zero needs the privilege to raise priority


async def probe(
    plan: ProbePlan, measure: Any, stop: Any, sink: LatencySink | None = None
) -> list[float]:
    """Publish and subscribe; time packets while ``measure`` is set, until ``stop`` is."""
    sink = sink or LatencySink()
    publisher = Client(plan.url, plan.publisher_token, room=plan.room)
    subscriber = Client(plan.url, plan.subscriber_token, room=plan.room, rtp_sink=sink)
    try:
        await publisher.connect(timeout=30)
        await subscriber.connect(timeout=30)
        await publish_clip(publisher, plan.clip)
        assert publisher.publisher is not None
        for transceiver in publisher.publisher.getTransceivers():
            internals.observe_sent_rtp(internals.transport_of(transceiver), sink.sent)
        while not stop.is_set():
            sink.recording = measure.is_set()
            await asyncio.sleep(0.05)  # the events belong to another process: poll them
    finally:
        await subscriber.close()
        await publisher.close()
    return sink.samples_ms


def run_probe(
    plan: ProbePlan, results: multiprocessing.queues.Queue[Any], measure: Any, stop: Any
) -> None:
    """Process entry: samples while ``measure`` is set, puts the list when ``stop`` is."""
    logging.basicConfig(level=logging.ERROR)
    if plan.cpus:
        os.sched_setaffinity(0, set(plan.cpus))
    if plan.priority:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, plan.priority)
        except PermissionError:
            logger.warning("latency probe: no permission for niceness %d", plan.priority)
    try:
        results.put(asyncio.run(probe(plan, measure, stop)))
    except Exception as exc:  # reported to the parent, which decides
        results.put(f"latency probe failed: {exc!r}")
