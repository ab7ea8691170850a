"""Run a load test: spread publishers and subscribers over worker processes, aggregate
their reports each second, and measure a steady-state window once everyone has joined."""

from __future__ import annotations

import logging
import multiprocessing
import queue
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from meetbox.auth.tokens import VideoGrant, mint_token
from meetbox.loadtest import procstat
from meetbox.loadtest.clip import Clip, encode_audio, encode_video
from meetbox.loadtest.meeting import View
from meetbox.loadtest.worker import WorkerPlan, WorkerReport, run
from meetbox.media.rtpcount import Totals

logger = logging.getLogger(__name__)

WARMUP = 2.0
# After the joins the load settles before it is measured: a worker that fell behind
# while everyone joined drains what its sockets held (for a few seconds it "receives"
# several times the sent rate). Measured from SETTLE consecutive seconds at the asked
# frame rate (within 10%) on, or MAX_SETTLE seconds after the last join at the latest.
SETTLE = 3
MAX_SETTLE = 40.0


@dataclass(frozen=True)
class LoadSpec:
    url: str
    api_key: str
    api_secret: str
    room: str = "loadtest"
    publishers: int = 1
    subscribers: int = 10
    workers: int = 1
    duration: float = 30.0
    join_timeout: float = 90.0
    width: int = 640
    height: int = 480
    bitrate: int = 1_000_000
    fps: int = 30
    video: bool = True
    audio: bool = True
    decrypt: bool = False  # subscribers decrypt SRTP (by default: count by the clear headers)
    hidden: bool = False  # subscribers join hidden: nobody is told of them (the token grant)
    server_pid: int | None = None
    worker_cpus: tuple[int, ...] = ()  # pin the workers (the benchmark: off the server's core)
    # a meeting of this many participants, each publishing video and receiving everyone
    # else's (``publishers`` and ``subscribers`` then unused); the first ``talkers`` of
    # them publish audio too (the others' microphones are off)
    meeting: int = 0
    talkers: int = 2
    simulcast: bool = False  # the meeting's video as three layers, the top one width x height
    view: str = "gallery"  # the meeting's tiles: "gallery" or "speaker" (see loadtest.meeting)
    # the SFU: "meetbox" (its Socket.IO signalling), or "janus" (Janus's VideoRoom through
    # its HTTP API at ``url``: the same publishers and counting subscribers, side by side)
    backend: str = "meetbox"

    @property
    def receivers(self) -> int:
        """The connections that receive and are counted."""
        return self.meeting or self.subscribers

    @property
    def videos_each(self) -> int:
        """The video streams each of them receives."""
        if not self.video:
            return 0
        return self.meeting - 1 if self.meeting else 1


@dataclass
class Second:
    elapsed: float
    joined: int
    bitrate_bps: float  # received, mean per subscriber
    fps: float  # video frames received, mean per subscriber
    loss: float  # fraction of the packets expected in this second
    server_cpu: float | None  # cores
    measuring: bool = False  # inside the steady-state window


@dataclass
class LoadResult:
    spec: LoadSpec
    seconds: list[Second] = field(default_factory=list)
    join_ms: list[float] = field(default_factory=list)
    joined: int = 0
    window: Totals = field(default_factory=Totals)  # all subscribers, steady state
    window_seconds: float = 0.0
    server_cpu_s: float | None = None  # in the window
    errors: list[str] = field(default_factory=list)

    @property
    def packets_per_second(self) -> float:
        return self.window.packets / self.window_seconds if self.window_seconds else 0.0

    @property
    def loss(self) -> float:
        return self.window.lost / self.window.expected if self.window.expected else 0.0

    @property
    def bitrate_per_subscriber(self) -> float:
        if not self.window_seconds or not self.joined:
            return 0.0
        return self.window.bytes * 8 / self.window_seconds / self.joined

    @property
    def fps_per_subscriber(self) -> float:
        if not self.window_seconds or not self.joined:
            return 0.0
        return self.window.frames / self.window_seconds / self.joined

    @property
    def server_cores(self) -> float | None:
        if self.server_cpu_s is None or not self.window_seconds:
            return None
        return self.server_cpu_s / self.window_seconds

    def percentile_join(self, q: float) -> float | None:
        if not self.join_ms:
            return None
        if len(self.join_ms) == 1:
            return self.join_ms[0]
        return statistics.quantiles(self.join_ms, n=100, method="inclusive")[round(q) - 1]


def _tokens(
    spec: LoadSpec, prefix: str, count: int, publish: bool, subscribe: bool | None = None
) -> list[str]:
    grant = VideoGrant(
        room=spec.room,
        room_join=True,
        can_publish=publish,
        can_subscribe=not publish if subscribe is None else subscribe,
        hidden=spec.hidden and not publish,
    )
    return [
        mint_token(spec.api_key, spec.api_secret, f"{prefix}-{i}", grant, ttl=3600)
        for i in range(count)
    ]


# simulcast layers below the top one: (rid, scale down, share of the top bitrate), as the
# page sends its camera (1/4 and 1/2 the size at 1/10 and 1/3 the bitrate)
LOWER_LAYERS = (("q", 4, 0.1), ("h", 2, 1 / 3))
MEETING_GRAIN = 8  # a camera's picture, not pixel noise (see encode_video)


def simulcast_layers(spec: LoadSpec) -> tuple[tuple[str, Clip], ...]:
    """The three layers q, h and f (the top: ``spec``'s size and bitrate)."""
    layers = [
        (
            rid,
            encode_video(
                spec.width // scale,
                spec.height // scale,
                int(spec.bitrate * share),
                spec.fps,
                grain=MEETING_GRAIN,
            ),
        )
        for rid, scale, share in LOWER_LAYERS
    ]
    top = encode_video(spec.width, spec.height, spec.bitrate, spec.fps, grain=MEETING_GRAIN)
    layers.append(("f", top))
    return tuple(layers)


def _meeting_plans(spec: LoadSpec) -> list[WorkerPlan]:
    """The participants spread over ``spec.workers`` processes, in turn."""
    tokens = _tokens(spec, "p", spec.meeting, True, subscribe=True)
    people = [(token, i < spec.talkers) for i, token in enumerate(tokens)]
    layers = simulcast_layers(spec) if spec.video and spec.simulcast else ()
    video = None
    if spec.video and not layers:
        video = encode_video(spec.width, spec.height, spec.bitrate, spec.fps, grain=MEETING_GRAIN)
    audio = encode_audio() if spec.audio and spec.talkers else None
    workers = max(1, spec.workers)
    return [
        WorkerPlan(
            index=i,
            url=spec.url,
            room=spec.room,
            publisher_tokens=(),
            subscriber_tokens=(),
            video=video,
            audio=audio,
            decrypt=spec.decrypt,
            participants=tuple(people[i::workers]),
            layers=layers,
            view=View.named(spec.view, speaker="p-0"),
        )
        for i in range(workers)
    ]


_CLIPS: dict[tuple[int, int, int, int], Clip] = {}
_CLIPS_LOCK = threading.Lock()


def _shared_clip(width: int, height: int, bitrate: int, fps: int) -> Clip:
    """The livestream clip, encoded once per process: libvpx's realtime rate control
    overshoots (6 Mbit/s for 1, measured) when two loads encode their pixel noise at once
    in one process, as the benchmark's two-room section runs them."""
    key = (width, height, bitrate, fps)
    with _CLIPS_LOCK:
        if key not in _CLIPS:
            _CLIPS[key] = encode_video(width, height, bitrate, fps)
        return _CLIPS[key]


def _plans(spec: LoadSpec) -> list[WorkerPlan]:
    """The publishers get a worker process of their own (a publisher sharing a loop with
    many subscribers falls behind its frame rate when they are busy); the subscribers are
    spread over ``spec.workers`` more. A meeting's participants: :func:`_meeting_plans`."""
    if spec.meeting:
        return _meeting_plans(spec)
    video = _shared_clip(spec.width, spec.height, spec.bitrate, spec.fps) if spec.video else None
    audio = encode_audio() if spec.audio else None
    publishers = _tokens(spec, "pub", spec.publishers, True)
    subscribers = _tokens(spec, "sub", spec.subscribers, False)
    workers = max(1, spec.workers)
    shares: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    if publishers:
        shares.append((tuple(publishers), ()))
    shares += [((), tuple(subscribers[i::workers])) for i in range(workers)]
    return [
        WorkerPlan(
            index=i,
            url=spec.url,
            room=spec.room,
            publisher_tokens=publisher_tokens,
            subscriber_tokens=subscriber_tokens,
            video=video,
            audio=audio,
            decrypt=spec.decrypt,
            backend=spec.backend,
        )
        for i, (publisher_tokens, subscriber_tokens) in enumerate(shares)
    ]


def _start_worker(
    plan: WorkerPlan, reports: Any, stop: Any, published: Any, cpus: tuple[int, ...]
) -> None:
    import os

    if cpus:
        os.sched_setaffinity(0, cpus)
    run(plan, reports, stop, published)


class _Aggregate:
    """The latest report of each worker, summed."""

    def __init__(self) -> None:
        self.latest: dict[int, WorkerReport] = {}
        self.errors: list[str] = []

    def add(self, report: WorkerReport) -> None:
        self.latest[report.worker] = report
        self.errors.extend(report.errors)

    def stamp(self) -> float:
        """The time of the latest reports (their totals are as of then): their mean,
        weighted by subscribers (the publishers' worker counts nothing)."""
        counted = [(r.at, len(r.subscribers)) for r in self.latest.values() if r.subscribers]
        if not counted:
            return time.time()
        return sum(at * n for at, n in counted) / sum(n for _, n in counted)

    def totals(self) -> Totals:
        total = Totals()
        for report in self.latest.values():
            for sub in report.subscribers:
                total += sub.totals
        return total

    def joined(self, videos: int) -> int:
        """The subscribers that receive ``videos`` video streams (or more)."""
        return sum(1 for r in self.latest.values() for s in r.subscribers if s.videos >= videos)

    def disconnected(self) -> int:
        return sum(1 for r in self.latest.values() for s in r.subscribers if not s.connected)

    def join_ms(self) -> list[float]:
        return [
            s.join_ms for r in self.latest.values() for s in r.subscribers if s.join_ms is not None
        ]


def run_load(
    spec: LoadSpec,
    on_second: Callable[[Second, float], None] | None = None,
    on_window: Callable[[bool], None] | None = None,
) -> LoadResult:
    """Run ``spec`` to the end; ``on_second(sample, progress 0..1)`` sees each second,
    ``on_window(True)`` and ``on_window(False)`` the steady-state window's start and end
    (before the subscribers leave)."""
    result = LoadResult(spec)
    pid = spec.server_pid
    if pid is None:
        port = urlsplit(spec.url).port
        pid = procstat.listening_pid(port) if port else None
    context = multiprocessing.get_context("spawn")
    reports: Any = context.Queue()
    stop, published = context.Event(), context.Event()
    plans = _plans(spec)
    if not spec.publishers or spec.meeting:
        published.set()
    processes = [
        context.Process(
            target=_start_worker,
            args=(plan, reports, stop, published, spec.worker_cpus),
            daemon=True,
        )
        for plan in plans
    ]
    for process in processes:
        process.start()
    aggregate = _Aggregate()
    started = time.monotonic()
    phase_end = started + spec.join_timeout
    window_start: tuple[float, Totals, float | None, float] | None = None
    previous = (started, Totals(), procstat.cpu_seconds(pid) if pid else None)
    settled = 0  # consecutive seconds at the asked frame rate
    joined_at: float | None = None
    try:
        while True:
            try:
                aggregate.add(reports.get(timeout=1.0))
            except queue.Empty:
                if not any(p.is_alive() for p in processes):
                    result.errors.append("every worker process ended early")
                    break
            now = time.monotonic()
            if now - previous[0] >= 1.0:
                totals = aggregate.totals()
                cpu = procstat.cpu_seconds(pid) if pid else None
                span = now - previous[0]
                joined = aggregate.joined(spec.videos_each)
                delta_packets = totals.expected - previous[1].expected
                sample = Second(
                    elapsed=now - started,
                    joined=joined,
                    bitrate_bps=(totals.bytes - previous[1].bytes) * 8 / span / max(joined, 1),
                    fps=(totals.frames - previous[1].frames) / span / max(joined, 1),
                    loss=(totals.lost - previous[1].lost) / delta_packets
                    if delta_packets > 0
                    else 0.0,
                    server_cpu=(cpu - previous[2]) / span
                    if cpu is not None and previous[2] is not None
                    else None,
                    measuring=window_start is not None,
                )
                result.seconds.append(sample)
                previous = (now, totals, cpu)
                wanted_fps = spec.fps * spec.videos_each
                steady = not spec.video or abs(sample.fps - wanted_fps) <= 0.1 * wanted_fps
                settled = settled + 1 if steady and joined else 0
                if window_start is None:  # joining: the first 30%
                    done = 0.3 * joined / max(spec.receivers, 1)
                else:
                    done = 0.3 + 0.7 * (now - window_start[0]) / max(spec.duration, 1e-9)
                if on_second is not None:
                    on_second(sample, min(done, 1.0))
            if window_start is None:
                everyone = aggregate.joined(spec.videos_each) >= spec.receivers
                if everyone and joined_at is None:
                    joined_at = now  # all joined: warm up and settle, then measure
                    phase_end = min(phase_end, now + MAX_SETTLE)
                ready = joined_at is not None and now >= joined_at + WARMUP and settled >= SETTLE
                if ready or now >= phase_end:
                    if aggregate.joined(spec.videos_each) < spec.receivers:
                        result.errors.append(
                            f"only {aggregate.joined(spec.videos_each)} of {spec.receivers}"
                            f" subscribers received media within {spec.join_timeout:.0f}s"
                        )
                    elif not ready:
                        result.errors.append(
                            f"the load did not settle at {spec.fps} fps within {MAX_SETTLE:.0f}s"
                            " of the last join: measured as it was"
                        )
                    window_start = (
                        now,
                        aggregate.totals(),
                        procstat.cpu_seconds(pid) if pid else None,
                        aggregate.stamp(),
                    )
                    phase_end = now + spec.duration
                    if on_window is not None:
                        on_window(True)
            elif now >= phase_end:
                if on_window is not None:
                    on_window(False)
                end_totals = aggregate.totals()
                cpu = procstat.cpu_seconds(pid) if pid else None
                # the reports' own times: a busy worker's report can be late
                result.window_seconds = aggregate.stamp() - window_start[3]
                result.window = Totals(
                    end_totals.packets - window_start[1].packets,
                    end_totals.bytes - window_start[1].bytes,
                    end_totals.lost - window_start[1].lost,
                    end_totals.expected - window_start[1].expected,
                    end_totals.frames - window_start[1].frames,
                )
                if cpu is not None and window_start[2] is not None:
                    result.server_cpu_s = cpu - window_start[2]
                break
    finally:
        stop.set()
        published.set()  # a worker still waiting for the publishers lets go
        deadline = time.monotonic() + 15
        for process in processes:
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
        while True:
            try:
                report = reports.get_nowait()
            except (queue.Empty, OSError, ValueError):
                break
            aggregate.add(report)
    result.errors.extend(aggregate.errors)
    lost = aggregate.disconnected()
    if lost:
        result.errors.append(
            f"{lost} of {spec.receivers} subscribers lost their connection during the run"
        )
    result.join_ms = aggregate.join_ms()
    result.joined = aggregate.joined(spec.videos_each)
    return result
