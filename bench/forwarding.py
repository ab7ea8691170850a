"""1. Forwarding cost and capacity, beside the MediaRelay baseline and the SRTP floor; the plot."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription
from common import (
    BASELINE_STEPS,
    FPS,
    HERE,
    LOAD_CPU,
    MAX_LOSS,
    SERVER_CPU,
    STEPS,
    WINDOW,
    cpu_axes,
    free_port,
    log,
    meetbox_server,
    pinned_server,
    video_load,
    wait_server_idle,
)

from meetbox.client import sink_media
from meetbox.loadtest import procstat
from meetbox.loadtest.clip import encode_video
from meetbox.loadtest.cliptrack import ClipTrack
from meetbox.loadtest.runner import run_load
from meetbox.media.rtpcount import RtpCounter
from meetbox.progress import ProgressBar

# -- 1. forwarding cost and capacity -------------------------------------------------------


def forwarding() -> dict[str, Any]:
    with meetbox_server() as (url, key, secret, pid):
        return {"steps": measure_steps(url, key, secret, pid)}


def measure_steps(
    url: str,
    key: str,
    secret: str,
    pid: int,
    backend: str = "meetbox",
    counts: list[int] = STEPS,
    stop_after_dirty: int = 0,
) -> list[dict[str, Any]]:
    """The load's steps (``counts`` subscribers) against the server at ``url`` (meetbox's
    or Janus's back-end); with ``stop_after_dirty``, they end after that many unclean ones
    in a row."""
    steps: list[dict[str, Any]] = []
    dirty = 0
    for n in counts:
        wait_server_idle(pid)
        spec = video_load(url, key, secret, pid, f"fwd-{n}", n, backend=backend)
        bar = ProgressBar(1.0, f"{backend} forwarding {n:>3} subscribers")
        result = run_load(spec, partial(_show, bar))
        bar.close()
        sent = result.window.expected  # what the server sent the subscribers
        step = {
            "subscribers": n,
            "joined": result.joined,
            "server_cores": result.server_cores,
            "packets_per_second": sent / result.window_seconds if result.window_seconds else 0,
            "loss": result.loss,
            "fps": result.fps_per_subscriber,
            "bitrate_bps": result.bitrate_per_subscriber,
            "us_per_packet": (result.server_cpu_s or 0) / sent * 1e6 if sent else None,
            "join_ms_p50": result.percentile_join(50),
            "errors": result.errors[:3],
        }
        log(json.dumps(step))
        steps.append(step)
        dirty = 0 if clean(step) else dirty + 1
        if stop_after_dirty and dirty >= stop_after_dirty:
            break
    return steps


def _show(bar: ProgressBar, sample: Any, done: float) -> None:
    bar.update(done, f"loss {sample.loss:.2%}")


def top_step(fwd: dict[str, Any]) -> dict[str, Any]:
    """The largest step every subscriber joined and received the asked frame rate (within
    10%) with loss at or under MAX_LOSS."""
    steps = [s for s in fwd["steps"] if clean(s)]
    return max(steps, key=lambda s: s["subscribers"]) if steps else fwd["steps"][0]


def clean(s: dict[str, Any]) -> bool:
    return bool(
        s["loss"] <= MAX_LOSS
        and s["joined"] == s["subscribers"]
        and abs(s["fps"] - FPS) <= 0.1 * FPS
        and not s.get("errors")
    )


# -- the baseline: aiortc MediaRelay ------------------------------------------------------


async def _first_video(counters: list[RtpCounter], deadline: float) -> None:
    """Until every counter has seen video (the transports fill them; nothing to await)."""
    for counter in counters:
        while counter.first_video_at is None and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)  # a plain attribute the transports set: no event to await


async def _relay_run(url: str, n: int, pid: int) -> dict[str, Any]:
    clip = encode_video()
    pcs: list[RTCPeerConnection] = []
    counters: list[RtpCounter] = []
    async with aiohttp.ClientSession() as http:
        publisher = RTCPeerConnection()
        pcs.append(publisher)
        track = ClipTrack(clip)
        transceiver = publisher.addTransceiver(track, direction="sendonly")
        track.answer_keyframe_requests(transceiver.sender)
        await publisher.setLocalDescription(await publisher.createOffer())
        async with http.post(f"{url}/publish", json={"sdp": publisher.localDescription.sdp}) as r:
            reply = await r.json()
        await publisher.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
        for _ in range(n):
            pc = RTCPeerConnection()
            pcs.append(pc)
            pc.addTransceiver("video", direction="recvonly")
            await pc.setLocalDescription(await pc.createOffer())
            async with http.post(f"{url}/subscribe", json={"sdp": pc.localDescription.sdp}) as r:
                reply = await r.json()
            await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
            counter = RtpCounter()
            sink_media(pc, counter)
            counters.append(counter)
        deadline = time.monotonic() + 30
        await _first_video(counters, deadline)
        await asyncio.sleep(2)  # warm-up: encoders settle
        cpu0, frames0, t0 = (
            procstat.cpu_seconds(pid),
            sum(c.totals().frames for c in counters),
            time.monotonic(),
        )
        await asyncio.sleep(WINDOW)
        cpu1, frames1, t1 = (
            procstat.cpu_seconds(pid),
            sum(c.totals().frames for c in counters),
            time.monotonic(),
        )
        for pc in pcs:
            await pc.close()
    assert cpu0 is not None and cpu1 is not None
    cores = (cpu1 - cpu0) / (t1 - t0)
    return {
        "subscribers": n,
        "server_cores": cores,
        "cpu_per_substream": cores / n,
        "fps": (frames1 - frames0) / (t1 - t0) / n,
    }


def baseline() -> dict[str, Any]:
    steps = []
    for n in BASELINE_STEPS:
        port = free_port()
        with pinned_server(
            [sys.executable, str(HERE / "relay_sfu.py"), "--port", str(port)], port
        ) as pid:
            os.sched_setaffinity(0, {LOAD_CPU})
            step = asyncio.run(_relay_run(f"http://127.0.0.1:{port}", n, pid))
        log(json.dumps(step))
        steps.append(step)
    return {"steps": steps}


# -- the floor: receive, SRTP-protect, send -----------------------------------------------

# The cipher aiortc negotiates between two aiortc peers (meetbox and its load generator):
# the floor protects with the same one.
FLOOR_PROFILE = "SRTP_PROFILE_AEAD_AES_256_GCM"
FLOOR_KEY_BYTES = 44


def _floor_receiver(sockets: int, ready: Any) -> None:
    """The load core's side of the floor: ``sockets`` UDP sockets, drained as they fill
    (as many as meetbox's subscribers, so the kernel delivers to as many)."""
    import selectors

    os.sched_setaffinity(0, {LOAD_CPU})
    selector = selectors.DefaultSelector()
    addresses = []
    for _ in range(sockets):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        selector.register(sock, selectors.EVENT_READ)
        addresses.append(sock.getsockname())
    ready.send(addresses)
    while True:
        for key, _ in selector.select():
            try:
                while True:
                    key.fileobj.recv(2048)  # type: ignore[union-attr]
            except BlockingIOError:
                pass


def floor(packets: int = 200_000, receivers: int = 0) -> float:
    """CPU µs per packet of a bare loop: receive a datagram, SRTP-protect it, send it.

    ``receivers`` > 0: sent round-robin to that many sockets of a process on the load
    core, as meetbox's forwarded packets are; 0: to one socket of this process, drained
    between batches (no delivery to another process: the kernel's cheapest case).
    """
    import multiprocessing

    from pylibsrtp import Policy, Session

    os.sched_setaffinity(0, {SERVER_CPU})
    policy = Policy(
        key=secrets.token_bytes(FLOOR_KEY_BYTES),
        ssrc_type=Policy.SSRC_ANY_OUTBOUND,
        srtp_profile=getattr(Policy, FLOOR_PROFILE),
    )
    session = Session(policy=policy)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    receiver = None
    if receivers:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        receiver = context.Process(target=_floor_receiver, args=(receivers, theirs), daemon=True)
        receiver.start()
        if not ours.poll(30):
            raise RuntimeError("the floor's receiver process did not start")
        destinations = ours.recv()
    else:
        destinations = [sink.getsockname()]
    # one sending socket per destination, as each subscriber's ICE pair has its own
    senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in destinations]
    target = rx.getsockname()
    header = bytes([0x80, 96])
    cpu = 0.0
    done = 0
    batch = 500
    turn = 0
    try:
        while done < packets:
            for i in range(batch):
                seq = ((done + i) & 0xFFFF).to_bytes(2, "big")
                tx.sendto(header + seq + b"\0\0\0\1\0\0\0\2" + bytes(1100), target)
            start = time.process_time()
            for _ in range(batch):
                data = rx.recv(2048)
                senders[turn].sendto(session.protect(data), destinations[turn])
                turn = (turn + 1) % len(destinations)
            cpu += time.process_time() - start
            while True:  # drain the local sink so its buffer never fills
                try:
                    sink.recv(2048, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
            done += batch
    finally:
        for sock in (rx, tx, sink, *senders):
            sock.close()
        if receiver is not None:
            receiver.kill()
            receiver.join(5)
    return cpu / packets * 1e6


def plot(fwd: dict[str, Any], base: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    ax.plot(
        [s["subscribers"] for s in fwd["steps"]],
        [s["server_cores"] * 100 for s in fwd["steps"]],
        "o-",
        label="meetbox (forwards RTP)",
    )
    ax.plot(
        [s["subscribers"] for s in base["steps"]],
        [s["server_cores"] * 100 for s in base["steps"]],
        "s-",
        color="tab:red",
        label="aiortc MediaRelay (decode + re-encode per subscriber)",
    )
    cpu_axes(
        ax,
        "subscribers (1 Mbps 640x480 VP8 video each)",
        "Server CPU against subscriber count (one core)",
    )
    fig.tight_layout()
    fig.savefig(path)
