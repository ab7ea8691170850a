"""11. Every core: forwarding cost per packet with two rooms on one worker beside the
same rooms spread over two workers (``serve --workers 2``), the share of the box's cores
that gives, projected for 16 cores; join and first-frame time through a worker that does
not hold the room beside one that does."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from common import (
    LOAD_CPU,
    SERVER_CPU,
    free_port,
    log,
    stop_process,
    video_load,
    wait_listening,
)
from prometheus_client.parser import text_string_to_metric_families

from meetbox.auth.tokens import VideoGrant, mint_token
from meetbox.client import Client
from meetbox.cluster.status import ROOMS_PATH, SECRET_HEADER, cluster_secret
from meetbox.loadtest import procstat
from meetbox.loadtest.clip import encode_video
from meetbox.loadtest.cliptrack import publish_clip
from meetbox.loadtest.runner import LoadResult, run_load
from meetbox.progress import ProgressBar

ROOMS = 2
# per room: at 40 the workers' fixed costs (timers, status reads) weigh on the per-packet
# figure; at 100 two workers and the load generator overfill the two cores
SUBSCRIBERS = int(os.environ.get("BENCH_WORKER_SUBSCRIBERS", "70"))
JOINS = 20


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@contextmanager
def serve(workers: int) -> Iterator[dict[str, Any]]:
    """``meetbox serve --workers N`` (1: the single process); its workers pinned one a
    core, as mediasoup's are one a core (worker i on core i)."""
    port = free_port()
    key, secret = "bench", secrets.token_hex(24)
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "MEETBOX_KEYS_API_KEY": key, "MEETBOX_KEYS_API_SECRET": secret,
               "MEETBOX_SERVER_LOG_LEVEL": "WARNING"}  # fmt: skip
        exe = str(Path(sys.executable).with_name("meetbox"))
        args = [exe, "serve", "--data-dir", data, "--port", str(port), "--workers", str(workers)]
        process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            wait_listening(port, process, timeout=60)
            if workers == 1:
                pids = [process.pid]
            else:
                deadline = time.monotonic() + 60
                while len(pids := _children(process.pid)) < workers:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the workers did not start")
                    time.sleep(0.2)  # the supervisor starts them
            _wait_ready(f"http://127.0.0.1:{port}")
            # the machine's cores, whatever this process is pinned to by now
            cores = list(range(os.cpu_count() or 1))
            for i, pid in enumerate(sorted(pids)):
                os.sched_setaffinity(pid, {cores[(SERVER_CPU + i) % len(cores)]})
            # the server's CPU: every worker's, and the gateway's (signalling only)
            everyone = pids if workers == 1 else [*pids, process.pid]
            yield {"url": f"http://127.0.0.1:{port}", "key": key, "secret": secret,
                   "pids": everyone, "gateway": process.pid}  # fmt: skip
        finally:
            stop_process(process, timeout=30)  # the workers drain and stop first


def _wait_ready(url: str, timeout: float = 60.0) -> None:
    """Until ``/readyz`` says the workers take rooms."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)  # the workers are starting
    raise TimeoutError(f"{url} was not ready within {timeout:.0f} s")


def _by_worker(url: str, name: str) -> dict[str, float]:
    """A counter per worker, from the server's ``/metrics`` (one process: one entry)."""

    async def scrape() -> str:
        async with aiohttp.ClientSession() as http, http.get(url + "/metrics") as reply:
            return await reply.text()

    values: dict[str, float] = {}
    for family in text_string_to_metric_families(asyncio.run(scrape())):
        for sample in family.samples:
            if sample.name == name:
                worker = sample.labels.get("worker", "server")
                values[worker] = values.get(worker, 0.0) + sample.value
    return values


def _delta(before: dict[str, float], after: dict[str, float]) -> float:
    """Summed over the workers both scrapes saw (a worker missing from one, its scrape
    timed out under load, would count its whole total)."""
    return sum(after[w] - before[w] for w in after if w in before)


def _cpu(pids: list[int]) -> float:
    return sum(procstat.cpu_seconds(pid) or 0.0 for pid in pids)


def forwarding_spread(workers: int) -> dict[str, Any]:
    """ROOMS livestream rooms of SUBSCRIBERS each, loaded at once; the server's CPU (every
    worker's) over the packets it forwarded in the load's window."""
    with serve(workers) as server:
        results: list[LoadResult] = []

        windows = [threading.Event() for _ in range(ROOMS)]

        def load(index: int) -> None:
            spec = video_load(server["url"], server["key"], server["secret"],
                              server["gateway"], f"spread-{index}", SUBSCRIBERS)  # fmt: skip

            def window(started: bool) -> None:
                if started:  # every subscriber joined: the steady state begins
                    windows[index].set()

            results.append(run_load(spec, on_window=window))

        bar = ProgressBar(1.0, f"{ROOMS} rooms on {workers} worker(s)")
        threads = [threading.Thread(target=load, args=(i,)) for i in range(ROOMS)]
        for thread in threads:
            thread.start()
        for window in windows:  # every subscriber of every room joined
            window.wait(180)
        bar.update(0.5, "measuring")
        names = ("meetbox_packets_sent_total", "meetbox_packets_received_total",
                 "meetbox_plis_sent_total")  # fmt: skip
        first = {n: _by_worker(server["url"], n) for n in names}
        cpu0, t0 = _cpu(server["pids"]), time.monotonic()
        time.sleep(6)  # the measuring window, inside the loads' own (12 s)
        cpu1, t1 = _cpu(server["pids"]), time.monotonic()
        last = {n: _by_worker(server["url"], n) for n in names}
        packets, packets_in, plis = (_delta(first[n], last[n]) for n in names)
        for thread in threads:
            thread.join()
        bar.close()
        measured: dict[str, Any] = {
            "workers": workers,
            "rooms": ROOMS,
            "subscribers_per_room": SUBSCRIBERS,
            "joined": sum(r.joined for r in results),
            "loss": max((r.loss for r in results), default=None),
            "packets_per_second": packets / (t1 - t0),
            "server_cores": (cpu1 - cpu0) / (t1 - t0),
            "us_per_packet": (cpu1 - cpu0) / packets * 1e6 if packets else None,
            # the same traffic as the load generator's subscribers counted it (their window)
            "keyframe_requests_per_second": plis / (t1 - t0),
            "packets_in_per_second": packets_in / (t1 - t0),
            "fps": min((r.fps_per_subscriber for r in results), default=None),
            "bitrate_bps": min((r.bitrate_per_subscriber for r in results), default=None),
            "load_packets_per_second": sum(
                r.window.expected / r.window_seconds for r in results if r.window_seconds
            ),
        }
        log(json.dumps(measured))
        return measured


async def _joins(server: dict[str, Any]) -> dict[str, list[float]]:
    """The publisher's room is on one worker; joins direct to that worker, and through
    the gateway landing first on the other (least loaded) worker."""
    key, secret, url = server["key"], server["secret"], server["url"]

    def token(identity: str, publish: bool) -> str:
        grant = VideoGrant(room="join", room_join=True, can_publish=publish)
        return mint_token(key, secret, identity, grant, ttl=600)

    publisher = Client(url, token("publisher", True))
    await publisher.connect()
    await publish_clip(publisher, encode_video())
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            url + ROOMS_PATH + "join", headers={SECRET_HEADER: cluster_secret(secret)}
        ) as reply,
    ):
        holder = (await reply.json())["url"]
    times: dict[str, list[float]] = {"own_worker": [], "other_worker": []}
    bar = ProgressBar(2 * JOINS, "join time, two workers")
    for i in range(JOINS):
        for path, target in (("own_worker", holder), ("other_worker", url)):
            started = time.monotonic()
            client = Client(target, token(f"joiner-{path}-{i}", False), reconnect=False)
            await client.connect()
            remote = await client.wait_for_track(identity="publisher", kind="video", timeout=15)
            await asyncio.wait_for(remote.track.recv(), 15)  # the first decoded frame
            times[path].append((time.monotonic() - started) * 1000)
            await client.leave()
            bar.update(len(times["own_worker"]) + len(times["other_worker"]))
    bar.close()
    await publisher.close()
    return times


def join_other_worker() -> dict[str, list[float]]:
    with serve(2) as server:
        os.sched_setaffinity(0, {LOAD_CPU})
        return asyncio.run(_joins(server))


def workers() -> dict[str, Any]:
    one = forwarding_spread(1)
    two = forwarding_spread(2)
    joins = join_other_worker()
    return {"one_worker": one, "two_workers": two, "join_ms": joins}


def keys(w: dict[str, Any]) -> dict[str, Any]:
    one, two = w["one_worker"]["us_per_packet"], w["two_workers"]["us_per_packet"]
    own = statistics.median(w["join_ms"]["own_worker"])
    other = statistics.median(w["join_ms"]["other_worker"])
    # each added worker forwards on a core of its own with this cost per packet: capacity
    # per core, two workers beside one (1.0: every added core adds a whole worker's worth)
    ratio = one / two if one and two else None
    return {
        "us_per_packet_one_worker": one,
        "us_per_packet_two_workers": two,
        "workers_capacity_ratio": ratio,
        # assumes each of 16 cores forwards at the cost measured here, with nothing shared
        # (no kernel, NIC or memory-bandwidth limit modelled); above 1.0 is noise: capped
        "workers_capacity_projected_16": 16 * min(ratio, 1.0) if ratio else None,
        "join_ms_p50_own_worker": own,
        "join_ms_p50_other_worker": other,
        "join_ms_other_worker_added": other - own,
    }


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str, bool | None]]:
    if "workers" not in r:
        return []
    w = r["workers"]
    ratio = r["workers_capacity_ratio"]
    return [
        (
            "forwarding cost per packet, rooms on two workers beside one",
            f"{r['us_per_packet_two_workers']:.1f} µs on two workers "
            f"({w['two_workers']['server_cores'] * 100:.0f}% of a core in all)",
            f"{r['us_per_packet_one_worker']:.1f} µs on one "
            f"({w['one_worker']['server_cores'] * 100:.0f}%)",
            "no worse",
            r["us_per_packet_two_workers"] <= 1.1 * r["us_per_packet_one_worker"],
        ),
        (
            "capacity per added core (workers_capacity_ratio), projected for 16 cores",
            f"{ratio:.2f} per core; 16 cores ≈ "
            f"{r['workers_capacity_projected_16']:.1f}{chr(0xD7)} one",
            "measured on 2 cores",
            "≥ 0.9",
            ratio >= 0.9,
        ),
        (
            "join to first frame through a worker that does not hold the room",
            f"{r['join_ms_p50_other_worker']:.0f} ms p50",
            f"{r['join_ms_p50_own_worker']:.0f} ms on the room's own worker "
            f"({r['join_ms_other_worker_added']:+.1f} ms)",
            "< 20 ms more",
            r["join_ms_other_worker_added"] < 20,
        ),
    ]
