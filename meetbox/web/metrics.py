"""What operators watch: ``/metrics`` in Prometheus' text format (prometheus-client),
``/readyz``. The figures are read from the live rooms when scraped, so nothing is counted
on the per-packet path; the process's CPU and memory come from prometheus-client's own
process collector, the event loop's lag from :class:`LoopLag`."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

from meetbox.errors import MeetboxError
from meetbox.rtc.traffic import traffic as live_traffic
from meetbox.web.services import Api

LAG_INTERVAL = 0.5  # seconds between two looks at the event loop


class LoopLag:
    """How late the event loop runs a callback that was due (the forwarding's own delay);
    owned by the server, which starts and closes it."""

    def __init__(self) -> None:
        self.last = 0.0
        self.worst = 0.0  # since the last scrape
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="loop lag")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + LAG_INTERVAL
            await asyncio.sleep(LAG_INTERVAL)  # the measure: how late this wakes
            self.last = max(0.0, loop.time() - due)
            self.worst = max(self.worst, self.last)

    def take_worst(self) -> float:
        worst, self.worst = max(self.worst, self.last), 0.0
        return worst

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class LiveCollector:
    """Rooms, participants, tracks, agents and speech workers, as they are now."""

    def __init__(self, api: Api, lag: LoopLag) -> None:
        self.api = api
        self.lag = lag

    def collect(self) -> Iterator[Metric]:
        rooms = list(self.api.signalling.rooms)
        people = GaugeMetricFamily(
            "meetbox_participants", "Participants in live rooms", labels=["visibility"]
        )
        counts = Counter("hidden" if p.hidden else "visible" for r in rooms
                         for p in r.participants.values())  # fmt: skip
        for visibility in ("visible", "hidden"):
            people.add_metric([visibility], counts[visibility])
        tracks = GaugeMetricFamily(
            "meetbox_published_tracks", "Tracks published in live rooms", labels=["kind"]
        )
        uptracks = [up for r in rooms for up in r.router.uptracks.values()]
        kinds = Counter(up.kind for up in uptracks)
        for kind in ("audio", "video"):
            tracks.add_metric([kind], kinds[kind])
        agents = GaugeMetricFamily("meetbox_agents", "Agents running in rooms", labels=["kind"])
        for kind, count in sorted(Counter(k for r in rooms for k in r.agents).items()):
            agents.add_metric([kind], count)
        yield GaugeMetricFamily("meetbox_rooms", "Live rooms", value=len(rooms))
        yield people
        yield tracks
        yield GaugeMetricFamily(
            "meetbox_subscribed_tracks",
            "Down-tracks: published tracks forwarded to a subscriber",
            value=sum(len(up.downtracks) for up in uptracks),
        )
        yield agents
        traffic = live_traffic(rooms)
        for name, doc, value in (
            ("packets_received", "RTP packets received from publishers", traffic.packets_in),
            ("bytes_received", "RTP bytes received from publishers", traffic.bytes_in),
            ("packets_lost", "Publishers' RTP packets that never arrived", traffic.lost_in),
            ("nacks_sent", "Packets asked of publishers again (NACK)", traffic.nacks_out),
            ("plis_sent", "Keyframes asked of publishers (PLI)", traffic.keyframe_requests_out),
            ("packets_sent", "RTP packets forwarded to subscribers", traffic.packets_out),
            ("bytes_sent", "RTP bytes forwarded to subscribers", traffic.bytes_out),
            ("retransmits", "Packets sent again on a subscriber's NACK", traffic.retransmits),
            ("nacks_received", "Packets subscribers asked for again (NACK)", traffic.nacks_in),
            ("plis_received", "Subscribers' keyframe requests (PLI, FIR)",
             traffic.keyframe_requests_in),
        ):  # fmt: skip
            yield CounterMetricFamily(f"meetbox_{name}", doc, value=value)
        losses = [d.fraction_lost / 256 for r in rooms for p in r.participants.values()
                  for d in p.subscriber.downtracks.values() if not d.closed]  # fmt: skip
        yield GaugeMetricFamily(
            "meetbox_subscriber_loss_ratio",
            "The worst loss a subscriber reports (RTCP receiver reports), 0..1",
            value=max(losses, default=0.0),
        )
        running = getattr(self.api.signalling.recordings, "active", {})  # the engine's
        yield GaugeMetricFamily("meetbox_recordings", "Recordings running", value=len(running))
        pool = self.api.speech
        yield GaugeMetricFamily(
            "meetbox_speech_workers", "Speech worker processes running", value=len(pool.pids())
        )
        yield GaugeMetricFamily(
            "meetbox_speech_streams", "Speakers being transcribed", value=len(pool.listeners)
        )
        yield GaugeMetricFamily(
            "meetbox_event_loop_lag_seconds",
            "The longest an event-loop callback ran late since the last scrape",
            value=self.lag.take_worst(),
        )


def mount(app: web.Application, api: Api) -> None:
    """``/metrics`` and ``/readyz``; the loop-lag monitor runs while the app does."""
    lag = LoopLag()

    async def start(app: web.Application) -> None:
        lag.start()

    async def stop(app: web.Application) -> None:
        await lag.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProcessCollector(registry=None))
    registry.register(LiveCollector(api, lag))

    async def metrics(request: web.Request) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def ready(request: web.Request) -> web.Response:
        """Ready to take rooms: the store answers and the server is not shutting down."""
        if api.signalling.closed:
            return web.json_response({"ready": False, "reason": "shutting down"}, status=503)
        try:
            await asyncio.wait_for(api.store.ping(), api.settings.store.timeout)
        except (MeetboxError, OSError, TimeoutError) as exc:
            reason = exc.message if isinstance(exc, MeetboxError) else "the store does not answer"
            return web.json_response({"ready": False, "reason": reason}, status=503)
        return web.json_response({"ready": True})

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/readyz", ready)
