"""/metrics in Prometheus' format, parsed with prometheus-client's own parser and checked
against the load that made it; /healthz and /readyz."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from meetbox.server import EmbeddedServer
from meetbox.tracks import CounterVideoTrack, ToneAudioTrack
from tests.helpers import read_counters

pytestmark = pytest.mark.timeout(60)


async def scrape(http: aiohttp.ClientSession, url: str) -> dict[tuple[str, tuple[str, ...]], float]:
    async with http.get(url + "/metrics") as reply:
        assert reply.status == 200 and reply.content_type == "text/plain"
        text = await reply.text()
    return {
        (sample.name, tuple(sorted(sample.labels.values()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_follow_the_rooms_and_readiness_answers(
    meetbox_server: EmbeddedServer,
) -> None:
    url = meetbox_server.url
    async with aiohttp.ClientSession() as http:
        idle = await scrape(http, url)
        assert idle[("meetbox_rooms", ())] == 0
        assert idle[("process_cpu_seconds_total", ())] > 0
        assert idle[("process_resident_memory_bytes", ())] > 10e6
        async with (
            meetbox_server.client("watched", "ann") as ann,
            meetbox_server.client("watched", "ben") as ben,
            meetbox_server.client("watched", "eve", hidden=True) as eve,
        ):
            await ann.publish(CounterVideoTrack())
            await ann.publish(ToneAudioTrack())
            video = await ben.wait_for_track(identity="ann", kind="video")
            audio = await ben.wait_for_track(identity="ann", kind="audio")
            await read_counters(video.track, 2)  # media flows: the connections are up
            await asyncio.wait_for(audio.track.recv(), 10)
            hidden_view = await eve.wait_for_track(identity="ann", kind="video")
            await read_counters(hidden_view.track, 2)
            busy = await scrape(http, url)
            assert busy[("meetbox_rooms", ())] == 1
            assert busy[("meetbox_participants", ("visible",))] == 2
            assert busy[("meetbox_participants", ("hidden",))] == 1
            assert busy[("meetbox_published_tracks", ("video",))] == 1
            assert busy[("meetbox_published_tracks", ("audio",))] == 1
            # ann's two tracks to ben and to eve (hidden viewers still subscribe)
            assert busy[("meetbox_subscribed_tracks", ())] == 4
            assert 0 <= busy[("meetbox_event_loop_lag_seconds", ())] < 5
            # traffic: ann's packets in, each forwarded to two subscribers (the counters
            # are the process's: the suite's earlier servers count too, so deltas)

            def delta(name: str) -> float:
                key = (f"meetbox_{name}_total", ())
                return busy[key] - idle[key]

            received, sent = delta("packets_received"), delta("packets_sent")
            assert received > 5 and delta("bytes_received") > 1000
            assert 1.0 * received < sent <= 2.0 * received
            assert delta("packets_lost") <= 0.01 * received
            for name in ("nacks_sent", "plis_sent", "nacks_received", "plis_received"):
                assert busy[(f"meetbox_{name}_total", ())] >= 0
            assert busy[("meetbox_recordings", ())] == 0
        # everyone left: their tracks closed, their traffic stays counted (counters only grow)
        after = await scrape(http, url)

        for name in ("packets_received", "bytes_received", "packets_sent", "bytes_sent"):
            key = (f"meetbox_{name}_total", ())
            assert after[key] >= busy[key], name
        for path in ("/healthz", "/readyz"):
            async with http.get(url + path) as reply:
                assert reply.status == 200, path
        assert (await (await http.get(url + "/readyz")).json()) == {"ready": True}
